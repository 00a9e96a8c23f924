"""Live progress for local runs: one line per component, ran or cached, with its duration.

TFX, Beam and TensorFlow log a great deal at INFO; that goes to a log file next to the run
outputs, and the terminal shows only which component is running and how it ended.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO


@dataclass
class NodeProgress:
    node_id: str
    started: float
    seconds: float = 0.0
    cached: bool = False
    # The process's CPU seconds (all threads) while the node ran: the load of other work on
    # the machine stretches `seconds` but hardly this, so runs at different loads compare.
    cpu_started: float = field(default_factory=time.process_time)
    cpu_seconds: float = 0.0
    executed: bool = False

    @property
    def status(self) -> str:
        """ran, cached, or resolved (resolver nodes select inputs and execute nothing)."""
        return "cached" if self.cached else "ran" if self.executed else "resolved"


class RunProgress(logging.Handler):
    """A logging handler that follows LocalDagRunner's and the launcher's messages.

    `nodes` holds one entry per progress line printed: a node that runs twice in one command (the
    window's older spans are ingested by CsvExampleGen in runs of their own, see `run_label`) is
    two entries, so the summary's counts agree with the lines above it.
    """

    def __init__(self, out: TextIO = sys.stdout) -> None:
        super().__init__(level=logging.INFO)
        self.out = out
        self.nodes: dict[str, NodeProgress] = {}
        self.current: str | None = None
        self.run_label = ""  # appended to node ids while set: "CsvExampleGen (span 1)"

    def _key(self, node_id: str) -> str:
        return f"{node_id} ({self.run_label})" if self.run_label else node_id

    def reused(self, label: str) -> None:
        """A step the run skipped because ML Metadata already holds its result: a cached line."""
        self.nodes[label] = NodeProgress(label, time.monotonic(), cached=True)
        self.out.write(f"  {'[cached]':<10} {label} (0.0 s)\n")
        self.out.flush()

    def emit(self, record: logging.LogRecord) -> None:
        # Libraries log exception objects too (Beam logs the RuntimeError that wraps a Ctrl-C),
        # and a handler that raised would replace the error being reported with its own.
        try:
            self._follow(record)
        except Exception:
            self.handleError(record)

    def _follow(self, record: logging.LogRecord) -> None:
        msg, args = record.msg, record.args if isinstance(record.args, tuple) else ()
        if not isinstance(msg, str):
            return
        if msg == "Component %s is running." and args:
            self.current = self._key(str(args[0]))
            self.nodes[self.current] = NodeProgress(self.current, time.monotonic())
            self.out.write(f"  ... {self.current}\n")
            self.out.flush()
        elif msg == "A cached execution %d is used." and self.current:
            self.nodes[self.current].cached = True
        elif msg.startswith("Going to run a new execution") and self.current:
            self.nodes[self.current].executed = True
        elif msg == "Component %s is finished." and args and self._key(str(args[0])) in self.nodes:
            node = self.nodes[self._key(str(args[0]))]
            node.seconds = time.monotonic() - node.started
            node.cpu_seconds = time.process_time() - node.cpu_started
            self.out.write(
                f"  {'[' + node.status + ']':<10} {node.node_id} ({node.seconds:.1f} s)\n"
            )
            self.out.flush()
            self.current = None


class capture_logs:
    """Route INFO logs to `log_file` and progress lines to the terminal while a run lasts.

    Subprocesses (TFX builds and pip-installs the user-code wheels) write to file descriptors 1
    and 2 directly, so those are pointed at the log file too; progress goes to a duplicate of
    the original stdout.
    """

    def __init__(self, log_file: Path, out: TextIO | None = None) -> None:
        self.log_file = log_file
        self.out = out

    def __enter__(self) -> RunProgress:
        import absl.logging

        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        sys.stdout.flush()
        sys.stderr.flush()
        self.saved_fds = (os.dup(1), os.dup(2))
        terminal = self.out or os.fdopen(os.dup(self.saved_fds[0]), "w", buffering=1)
        self.owned_terminal = None if self.out else terminal
        self.progress = RunProgress(out=terminal)
        self.log_fd = os.open(self.log_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(self.log_fd, 1)
        os.dup2(self.log_fd, 2)
        self.file_handler = logging.FileHandler(self.log_file, mode="a")
        self.file_handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
        )
        root = logging.getLogger()
        self.saved = (root.level, list(root.handlers))
        for handler in list(root.handlers):
            root.removeHandler(handler)
        root.setLevel(logging.INFO)
        root.addHandler(self.file_handler)
        root.addHandler(self.progress)
        absl.logging.set_verbosity(absl.logging.INFO)
        # absl and TensorFlow write to the terminal through handlers of their own.
        self.detached = {}
        for name in ("absl", "tensorflow"):
            lib_logger = logging.getLogger(name)
            self.detached[name] = (lib_logger.propagate, list(lib_logger.handlers))
            for handler in list(lib_logger.handlers):
                lib_logger.removeHandler(handler)
            lib_logger.propagate = True
        logging.captureWarnings(True)
        return self.progress

    def __exit__(self, *exc: object) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(self.saved_fds[0], 1)
        os.dup2(self.saved_fds[1], 2)
        for fd in (*self.saved_fds, self.log_fd):
            os.close(fd)
        if self.owned_terminal is not None:
            self.owned_terminal.close()
        root = logging.getLogger()
        root.removeHandler(self.file_handler)
        root.removeHandler(self.progress)
        self.file_handler.close()
        root.setLevel(self.saved[0])
        for handler in self.saved[1]:
            root.addHandler(handler)
        for name, (propagate, handlers) in self.detached.items():
            lib_logger = logging.getLogger(name)
            lib_logger.propagate = propagate
            for handler in handlers:
                lib_logger.addHandler(handler)
        logging.captureWarnings(False)
