"""The TFX pipeline definition, its runners, and the run summary."""

import os

import mlops  # noqa: F401 - sets TF_USE_LEGACY_KERAS and warning filters first

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
