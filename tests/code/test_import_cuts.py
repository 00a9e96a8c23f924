"""core refuses the imports TFX's start-up pulls in for nothing (core/import_cuts.py)."""

from __future__ import annotations

import subprocess
import sys

PROBE = (
    "import core, jsonschema, sys; "
    "print(sys.modules.get('rfc3987_syntax', 'absent')); "
    "print(jsonschema.Draft202012Validator.FORMAT_CHECKER.conforms('2026-11-30', 'date'))"
)


def _run(probe: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()


def test_importing_core_keeps_jsonschema_from_compiling_the_iri_grammar() -> None:
    out = _run(PROBE)
    # Not imported at all, and jsonschema's other format checks still work without it.
    assert out == ["None", "True"]


def test_beam_io_loads_without_the_bigquery_and_pubsub_clients() -> None:
    probe = (
        "import core, sys, apache_beam as beam; "
        "print(sorted(m for m in ('apache_beam.io.gcp.bigquery', 'google.cloud.bigquery', "
        "'google.cloud.pubsub_v1') if m in sys.modules)); "
        "print(callable(beam.io.ReadFromText), callable(beam.io.WriteToTFRecord))"
    )
    # Beam's own file I/O is all there; the BigQuery connector and its clients are not loaded.
    assert _run(probe) == ["[]", "True True"]


def test_an_explicit_import_of_beams_bigquery_connector_names_the_file_that_refuses_it() -> None:
    probe = (
        "import core\n"
        "try:\n"
        "    from apache_beam.io.gcp import bigquery\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    (message,) = _run(probe)
    assert "apache_beam.io.gcp.bigquery" in message
    assert "core/import_cuts.py" in message


def test_the_installed_distributions_are_read_once_per_process() -> None:
    probe = (
        "import core, importlib.metadata as md; "
        "first = md.packages_distributions(); "
        "print(md.packages_distributions() is first, 'tfx' in first)"
    )
    # The google-cloud clients each ask at import; the second ask is the first answer.
    assert _run(probe) == ["True True"]
