"""`mlops` starts in under a second: building the parser imports no TensorFlow, TFX or plotting.

Every command, `mlops serve --stop` in the middle of a load test included, pays for what the
command modules import at start-up; the heavy stages are imported inside the commands that
use them. This checks which modules load, not how long they take.
"""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("tensorflow", "tfx", "tensorflow_data_validation", "matplotlib", "apache_beam")


def test_building_the_parser_imports_no_heavy_library() -> None:
    probe = (
        "import sys; from mlops.main import build_parser; build_parser(); "
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"imported at start-up: {done.stdout.strip()}"
