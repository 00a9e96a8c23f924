"""The TFX pipeline definition, its runners, and the run summary."""

import core  # noqa: F401 - sets TF_USE_LEGACY_KERAS before anything imports TensorFlow
