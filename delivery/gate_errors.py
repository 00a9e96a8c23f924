"""The two ways the prod preflight stops, shared by its checks (standard library only)."""

from __future__ import annotations


class Refused(Exception):
    """No approval gate would hold: exit 1, and the message says what to turn on."""

    exit_code = 1


class Unreachable(Exception):
    """GitHub's API could not be asked: exit 3 (infrastructure)."""

    exit_code = 3
