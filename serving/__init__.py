"""Serving: TF Serving config rendered from the environment, the server, clients, load test."""

import core  # noqa: F401  (sets TF_USE_LEGACY_KERAS before any TensorFlow import)
