"""What a test outside the `slow` mark may not do: the fast loop's definition, enforced.

`make test-fast` (`-m "not slow"`) runs no pipeline, starts no server process (the TF Serving
stand-in or container, nginx, Prometheus, the Pushgateway, an OCI registry, locust) and replays
no workflow. A test that needs one of those is marked `slow`, so it still runs in `make test`.

Enforced while any test runs, in `make test` too, so a test cannot drift into the fast loop:
tests/conftest.py names the running test here, an audit hook sees every process the test process
starts, and the helpers that start a server through a child `mlops serve` (tests/support/servers)
or replay a workflow (tests/support/replay) ask first. Each fails a test not marked slow, naming
what it started. Not seen: what a child process starts in turn, and an in-process pipeline run
(all of those live in tests/end_to_end, marked slow).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence
from typing import Any

import pytest

# Executables (by base name) and `python -m` modules that are a server or a load generator.
PROGRAMS = {
    "nginx": "nginx",
    "prometheus": "Prometheus",
    "prometheus-pushgateway": "the Pushgateway",
    "pushgateway": "the Pushgateway",
    "docker-registry": "an OCI registry",
    "registry": "an OCI registry",
    "tensorflow_model_server": "TF Serving",
    "locust": "locust",
}
# Session fixtures that hold a server: started once by whichever test asks first, so using one is
# what counts, not starting it.
SERVER_FIXTURES = {"registry": "an OCI registry (the `registry` fixture)"}
MODULES = {"serving.standin.server": "the TF Serving stand-in", "locust": "locust"}

current: list[pytest.Item] = []  # the test running now, if any
refused: dict[str, str] = {}  # node id -> the first refusal, until its report is made


class NotInTheFastLoop(Exception):
    """A test outside the slow mark started a server, a pipeline or a workflow replay."""


def what_it_starts(argv: Sequence[Any]) -> str | None:
    """What a command line starts that the fast loop may not, or None."""
    args = [os.fsdecode(a) if isinstance(a, bytes | os.PathLike) else str(a) for a in argv]
    if not args:
        return None
    name = os.path.basename(args[0])
    if name in PROGRAMS:
        return PROGRAMS[name]
    if name == "docker" and args[1:2] == ["run"]:
        return "a container (`docker run`)"
    if "-m" in args[:3]:
        module = args[args.index("-m") + 1] if args.index("-m") + 1 < len(args) else ""
        return MODULES.get(module)
    return None


def refuse(what: str) -> None:
    """Fail the running test if it is not marked slow: it was about to start `what`."""
    if not current:
        return
    item = current[-1]
    if item.get_closest_marker("slow") is None:
        message = (
            f"{item.nodeid} starts {what}, which the fast loop (`make test-fast`) does not: "
            "mark it `@pytest.mark.slow` (tests/support/fast_loop.py)"
        )
        refused.setdefault(item.nodeid, message)  # failed even if the caller swallows it
        raise NotInTheFastLoop(message)


def enter(item: pytest.Item) -> None:
    """The test about to run: what it starts from now on is checked against its marks, and a
    test outside the slow mark that uses a server fixture is refused (failed by its report)."""
    install()
    current.append(item)
    if item.get_closest_marker("slow") is None:
        for name in sorted(SERVER_FIXTURES.keys() & set(getattr(item, "fixturenames", ()))):
            with contextlib.suppress(NotInTheFastLoop):  # recorded; the report fails the test
                refuse(SERVER_FIXTURES[name])


def leave() -> None:
    current.pop()


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "subprocess.Popen" and current:
        executable, argv = args[0], args[1]
        if isinstance(argv, str | bytes):  # shell=True, or one program name
            argv = os.fsdecode(argv).split()
        what = what_it_starts(list(argv) or [executable])
        if what is not None:
            refuse(what)


_installed: list[bool] = []


def install() -> None:
    """Install the audit hook once per process (hooks cannot be removed; it checks `current`)."""
    if not _installed:
        sys.addaudithook(_audit)
        _installed.append(True)
