"""Imports that TFX's start-up pulls in for nothing, refused before anything asks for them.

Every local run imports `tfx.components` (TFX's own input resolution does), whose InfraValidator
imports the Kubernetes client, which imports jsonschema, which compiles the Lark grammar of
`rfc3987_syntax` at import: about 1.5 s of CPU in every `mlops run`, cached or not, and in every
test process. jsonschema uses that package only for the `iri` and `iri-reference` formats, which
no schema of ours (environments/config.schema.json, the Kubernetes schemas) declares, and imports
it under `suppress(ImportError)`. A `None` in sys.modules makes that import fail at once.

Every run also imports `apache_beam` (TFX's launcher does), whose `apache_beam.io` imports Beam's
BigQuery connector under `except ImportError`: the google-cloud-bigquery, BigQuery Storage and
Pub/Sub clients, about a fifth of a no-change re-run's CPU. Nothing of ours reads or writes
BigQuery, and Beam imports the Pub/Sub and GCS modules it needs where it needs them. An explicit
import of the connector (TFX's BigQueryExampleGen) fails with a message naming this file.

Each google-cloud client library checks the Python version at import, and builds the warning's
label with `importlib.metadata.packages_distributions()`, which reads the metadata of every
installed distribution, again for each library. Nothing installs packages while a process of
ours runs, so the mapping is computed once per process.
"""

import functools
import importlib.abc
import importlib.metadata
import sys

CUT = ("rfc3987_syntax",)

for _name in CUT:
    sys.modules.setdefault(_name, None)  # type: ignore[arg-type]

# Refused with a message: Beam's BigQuery connector (see above).
REFUSED = ("apache_beam.io.gcp.bigquery",)


class _Refuse(importlib.abc.MetaPathFinder):
    """Raises ImportError, naming this file, for the modules in REFUSED."""

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        if fullname in REFUSED:
            raise ImportError(
                f"{fullname} is not imported in this project: core/import_cuts.py refuses it "
                f"(REFUSED) to keep BigQuery's clients out of every run's start-up; remove it "
                f"from REFUSED to use BigQuery I/O",
                name=fullname,
            )
        return None


if not any(isinstance(f, _Refuse) for f in sys.meta_path):
    sys.meta_path.insert(0, _Refuse())

if not hasattr(importlib.metadata.packages_distributions, "cache_info"):
    importlib.metadata.packages_distributions = functools.cache(
        importlib.metadata.packages_distributions
    )
