"""Custom TFX components the pipeline adds to the stock ones: the data and drift gates, the
span window, the released baseline, the schema importer and the atomic Pusher."""

import core  # noqa: F401 - sets TF_USE_LEGACY_KERAS before anything imports TensorFlow
