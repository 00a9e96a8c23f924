"""Errors a user can act on.

The CLI prints these as one message and an exit status, never as a traceback: each one already
says what was wrong and where (file, key, value, component).
"""

from __future__ import annotations


class MlopsError(Exception):
    """Base class: a failure whose message is complete enough to show on its own."""

    exit_code = 1


class ConfigError(MlopsError):
    """An environment overlay or command-line value is invalid."""

    exit_code = 2


class InfraError(MlopsError):
    """A store, registry or server could not be reached or refused our credentials.

    Not a gate verdict: nothing was judged. The message names the config key and value (or the
    variable to set) so the user can fix the setup and re-run.
    """

    exit_code = 3


class GateError(MlopsError):
    """A gate (data validation, model validation, training checks) stopped the run."""

    exit_code = 1
