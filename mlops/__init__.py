"""The `mlops` command line: one module per command under `mlops.commands`.

It parses arguments and composes the stages; every rule lives with its stage (`delivery/` for
promotion, `serving/` for the load test, `pipeline/` for runs).
"""

import core  # noqa: F401 - sets TF_USE_LEGACY_KERAS before anything imports TensorFlow
