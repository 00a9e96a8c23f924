"""core refuses the imports TFX's start-up pulls in for nothing (core/import_cuts.py)."""

from __future__ import annotations

import subprocess
import sys

PROBE = (
    "import core, jsonschema, sys; "
    "print(sys.modules.get('rfc3987_syntax', 'absent')); "
    "print(jsonschema.Draft202012Validator.FORMAT_CHECKER.conforms('2026-11-30', 'date'))"
)


def test_importing_core_keeps_jsonschema_from_compiling_the_iri_grammar() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout.split()
    # Not imported at all, and jsonschema's other format checks still work without it.
    assert out == ["None", "True"]
