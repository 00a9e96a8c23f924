"""Errors a user can act on, and the exit status each one ends `mlops` with.

The CLI prints these as one message and an exit status, never as a traceback: each one already
says what was wrong and where (file, key, value, component). Each class below states its exit
code, what that code means and examples of it; README.md's exit-status table is rendered from
these attributes (`python -m mlops.exit_status`), so the documentation cannot drift from them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExitStatus:
    """One row of the exit-status table: a code, what it means, and examples of it."""

    code: int
    meaning: str
    examples: str = ""


class MlopsError(Exception):
    """Base class: a failure whose message is complete enough to show on its own."""

    exit_code = 1
    meaning = (
        "a step failed for a reason that is not a gate, or an unexpected failure (`--debug` "
        "shows its traceback)"
    )
    examples = "a pipeline component raised, a model version the server could not load"


class ConfigError(MlopsError):
    """A command-line value, an environment overlay or an input file is invalid."""

    exit_code = 2
    meaning = "bad command line, configuration or input file: fix the named value and re-run"
    examples = (
        "an unknown environment, a model version the store does not hold, a URL without "
        "http://, a CSV row missing a required feature, a non-numeric value in a numeric "
        "column, a data folder with no span"
    )


class InfraError(MlopsError):
    """A store, registry or server could not be reached or refused our credentials.

    Not a gate verdict: nothing was judged. The message names the config key and value (or the
    variable to set) so the user can fix the setup and re-run.
    """

    exit_code = 3
    meaning = (
        "infrastructure: a store, registry or server could not be reached or refused the "
        "credentials; nothing was judged, so fix the setup and re-run"
    )
    examples = "no model server at --url, a registry that refuses the login, an unknown bucket"


class GateError(MlopsError):
    """A gate (data validation, model validation, training checks) stopped the run."""

    exit_code = 1
    meaning = "a gate stopped the run or a promotion rule refused"
    examples = (
        "anomalies, drift in `stop` mode, too few examples in the newest span, NaN in "
        "training, model not blessed, a load-test SLO breached, a tampered model version "
        "(digest-matches)"
    )


# The classes whose attributes make up the exit-status table, most general first.
ERROR_CLASSES: tuple[type[MlopsError], ...] = (MlopsError, GateError, ConfigError, InfraError)


def error_statuses() -> list[ExitStatus]:
    """One row per exit code the error classes use: meanings of a shared code joined, gates
    first."""
    rows: dict[int, list[type[MlopsError]]] = {}
    for cls in sorted(ERROR_CLASSES, key=lambda c: c is MlopsError):
        rows.setdefault(cls.exit_code, []).append(cls)
    return [
        ExitStatus(
            code,
            "; or ".join(c.meaning for c in classes),
            "; ".join(c.examples for c in classes if c.examples),
        )
        for code, classes in sorted(rows.items())
    ]
