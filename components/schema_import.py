"""The curated schema imported by a reference that holds on any machine, for Vertex AI runs.

The stock ImportSchemaGen stores the schema file's path in the compiled pipeline, so compiling
would bake the compiling machine's absolute path into the JSON, a path that does not exist in
the pipeline image. Here the compiled pipeline holds `models/schema/schema.pbtxt`, relative
to the folder holding the installed `models` package, and the executor resolves it at run
time inside the image, where the code and the schema (package data) are baked in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tfx.components.schema_gen.import_schema_gen import executor as import_executor
from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
from tfx.dsl.components.base import executor_spec
from tfx.types import standard_component_specs

from core import uris
from core.paths import MODELS_DIR, SCHEMA_DIR
from core.uris import is_remote

PACKAGE_ROOT = MODELS_DIR.parent  # the folder holding the `models` package


def package_reference(schema_file: Path = SCHEMA_DIR / "schema.pbtxt") -> str:
    """`models/...`: the schema file's path relative to the folder holding the package."""
    try:
        return Path(schema_file).resolve().relative_to(PACKAGE_ROOT).as_posix()
    except ValueError:
        raise ValueError(
            f"{schema_file} is not inside the models package "
            f"({MODELS_DIR}); only files shipped with the code reach the "
            f"pipeline image"
        ) from None


def resolve(reference: str) -> str:
    """Where a reference from `package_reference` is on this machine (or in this image)."""
    path = uris.resolve(reference, PACKAGE_ROOT)
    if not is_remote(path) and not Path(path).is_file():
        raise ValueError(
            f"schema file {reference!r} not found at {path}: the image must "
            f"install the models package with its schema (package data)"
        )
    return path


class Executor(import_executor.Executor):
    """The stock executor, given the reference resolved against the installed package."""

    def Do(
        self,
        input_dict: dict[str, list[Any]],
        output_dict: dict[str, list[Any]],
        exec_properties: dict[str, Any],
    ) -> None:
        key = standard_component_specs.SCHEMA_FILE_KEY
        super().Do(input_dict, output_dict, {**exec_properties, key: resolve(exec_properties[key])})


class PackagedSchemaGen(ImportSchemaGen):
    """ImportSchemaGen whose schema_file is a package reference (see `package_reference`)."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)
