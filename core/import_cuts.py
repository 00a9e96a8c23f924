"""Imports that TFX's start-up pulls in for nothing, refused before anything asks for them.

Every local run imports `tfx.components` (TFX's own input resolution does), whose InfraValidator
imports the Kubernetes client, which imports jsonschema, which compiles the Lark grammar of
`rfc3987_syntax` at import: about 1.5 s of CPU in every `mlops run`, cached or not, and in every
test process. jsonschema uses that package only for the `iri` and `iri-reference` formats, which
no schema of ours (environments/config.schema.json, the Kubernetes schemas) declares, and imports
it under `suppress(ImportError)`. A `None` in sys.modules makes that import fail at once.
"""

import sys

CUT = ("rfc3987_syntax",)

for _name in CUT:
    sys.modules.setdefault(_name, None)  # type: ignore[arg-type]
