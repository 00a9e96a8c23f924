"""The bottom layer every package imports: environment config, errors, paths and URIs, ports,
provenance, and the TensorFlow environment bootstrap. It imports no other package of ours."""

from core import import_cuts, tfenv  # noqa: F401 - before anything imports TensorFlow
