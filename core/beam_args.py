"""An environment's `orchestration.beam_args`, checked before any pipeline starts.

Beam drops a flag it does not know with only a log line, so a misspelt `--temp_locaton` would
run on defaults. The known flags come from Beam's own PipelineOptions classes in this venv, so
they follow the installed Beam version instead of a list kept by hand.
"""

from __future__ import annotations

import argparse
import functools
import importlib.metadata
import os
from collections.abc import Sequence
from dataclasses import dataclass

from core.paths import REPO_ROOT

# The runner names Beam resolves to Dataflow (it strips a `Runner` suffix, case-insensitively).
_DATAFLOW = {"dataflow", "dataflowrunner"}
# What a Dataflow job cannot start without: the GCP project, the region and a bucket for staging.
DATAFLOW_REQUIRED = ("project", "region", "temp_location")
CACHE_DIR = REPO_ROOT / "build" / "cache"


@dataclass(frozen=True)
class BeamArgProblem:
    """One refusal: the list index of the offending item (or None) and what to do about it."""

    index: int | None
    message: str


@functools.lru_cache(maxsize=1)
def known_flags() -> frozenset[str]:
    """Every `--name` Beam's PipelineOptions subclasses register, without the dashes.

    Importing Beam takes seconds, and every command loads config, so the list is kept in
    build/cache/ per installed Beam version; an upgrade of Beam makes a new one.
    """
    version = importlib.metadata.version("apache-beam")
    cache = CACHE_DIR / f"beam-flags-{version}.txt"
    try:
        return frozenset(cache.read_text().split())
    except OSError:
        pass
    flags = introspect_flags()
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text("\n".join(sorted(flags)) + "\n")
        partial.replace(cache)
    except OSError:
        pass  # a read-only checkout (the pipeline image) asks Beam every time
    return flags


def introspect_flags() -> frozenset[str]:
    """The flags, asked of Beam itself."""
    from apache_beam.options.pipeline_options import PipelineOptions

    parser = argparse.ArgumentParser(add_help=False)
    pending: list[type[PipelineOptions]] = [PipelineOptions]
    seen: set[type[PipelineOptions]] = set()
    while pending:
        cls = pending.pop()
        if cls in seen:
            continue
        seen.add(cls)
        pending.extend(cls.__subclasses__())
        try:
            cls._add_argparse_args(parser)  # type: ignore[arg-type]
        except argparse.ArgumentError:
            continue  # a subclass that re-registers a flag another one already added
    return frozenset(
        option[2:] for option in parser._option_string_actions if option.startswith("--")
    )


def parse(args: Sequence[str]) -> tuple[dict[str, str], list[BeamArgProblem]]:
    """`--name=value` / `--name value` / `--flag` items as {name: value}, and what is wrong."""
    values: dict[str, str] = {}
    problems: list[BeamArgProblem] = []
    known = known_flags()
    last: str | None = None
    for i, item in enumerate(args):
        if not item.startswith("--"):
            if last is None or values[last]:
                problems.append(
                    BeamArgProblem(i, f"{item!r} is not a flag: write --name=value (or --flag)")
                )
            else:
                values[last] = item
            last = None
            continue
        name, sep, value = item[2:].partition("=")
        if name not in known:
            close = sorted(k for k in known if _near(k, name))[:3]
            hint = f" (did you mean {', '.join('--' + c for c in close)}?)" if close else ""
            problems.append(
                BeamArgProblem(
                    i,
                    f"--{name} is not a flag of Beam's PipelineOptions, and Beam would drop "
                    f"it silently{hint}",
                )
            )
            last = None
            continue
        values[name] = value
        last = None if sep else name
    runner = values.get("runner", "")
    if runner.lower() in _DATAFLOW:
        for name in DATAFLOW_REQUIRED:
            if not values.get(name):
                problems.append(
                    BeamArgProblem(None, f"--runner={runner} needs --{name}=... in beam_args")
                )
        temp = values.get("temp_location", "")
        if temp and not temp.startswith("gs://"):
            index = next(i for i, a in enumerate(args) if a.startswith("--temp_location"))
            problems.append(
                BeamArgProblem(
                    index,
                    f"--runner={runner} needs a gs:// --temp_location (Dataflow workers cannot "
                    f"reach {temp!r})",
                )
            )
    return values, problems


def _near(a: str, b: str) -> bool:
    """A likely misspelling: same prefix, or one is inside the other."""
    return a[:5] == b[:5] or (len(b) > 3 and (b in a or a in b))
