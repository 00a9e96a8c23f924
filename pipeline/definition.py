"""The pipeline graph: which components run, in which order, on which inputs.

data -> statistics -> curated schema -> validation -> data gate -> drift gate -> training
window -> transform -> training -> baseline resolution -> evaluation -> push. The code each step
runs lives in `components/`; everything that differs between environments comes from the
EnvironmentConfig.
"""

from __future__ import annotations

import json
from pathlib import Path

# Concrete modules rather than `tfx.v1`: the latter imports the Google Cloud AI Platform
# extensions, about 12 s of start-up that a local run never uses.
from tfx.components import (
    CsvExampleGen,
    ExampleValidator,
    Pusher,
    StatisticsGen,
    Trainer,
    Transform,
)
from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
from tfx.dsl.components.base import executor_spec
from tfx.dsl.components.common.importer import Importer
from tfx.dsl.components.common.resolver import Resolver
from tfx.dsl.input_resolution.strategies.latest_artifact_strategy import LatestArtifactStrategy
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import (
    LatestBlessedModelStrategy,
)
from tfx.orchestration import metadata
from tfx.orchestration.pipeline import Pipeline
from tfx.proto import example_gen_pb2, pusher_pb2, range_config_pb2, trainer_pb2
from tfx.types import Channel, standard_artifacts

from components import pusher as atomic_pusher
from components.baseline import ReleasedBaseline
from components.data_gate import DataGate
from components.drift_gate import DriftGate
from components.evaluator import Evaluator
from components.schema_import import PackagedSchemaGen, package_reference
from components.window import SpanWindowStrategy
from core.config import EnvironmentConfig
from core.paths import SCHEMA_DIR
from ct import spans
from ct.drift import THRESHOLDS_FILE
from models.evaluation import eval_config
from pipeline import user_code
from pipeline.beam_args import pipeline_beam_args

# The user code, by import path on every runner: nothing is packaged or installed at run time
# (pipeline/user_code.py). On Vertex AI the code is baked into the pipeline image.
PREPROCESSING_FN = "models.preprocessing.preprocessing_fn"
TRAINER_FN = "models.trainer.run_fn"

# Node ids, in run order: the summary, the tests and the docs refer to these names. The
# baseline node is BASELINE_IMPORTER locally (only when the environment has a release) and
# BASELINE_RESOLVER on Vertex AI, where ML Metadata persists between runs.
BASELINE_IMPORTER = "BaselineModelImporter"
BASELINE_RESOLVER = "BaselineModelResolver"
NODE_IDS = (
    "CsvExampleGen",
    "StatisticsGen",
    "ImportSchemaGen",
    "ExampleValidator",
    "DataGate",
    "DriftGate",
    "SpanWindow",
    "Transform",
    "Trainer",
    BASELINE_IMPORTER,
    "Evaluator",
    "Pusher",
)


def create_pipeline(
    cfg: EnvironmentConfig,
    schema_dir: Path = SCHEMA_DIR,
    baseline: ReleasedBaseline | None = None,
    *,
    drift_spans: list[int] | None = None,
    drift_note: str = "",
) -> Pipeline:
    """`drift_spans`: the spans the environment's released model was trained on (drift gate)."""
    example_gen = _example_gen(cfg)

    statistics_gen = StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = _schema_importer(cfg, schema_dir / "schema.pbtxt")
    example_validator = ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    data_gate = DataGate(
        anomalies=example_validator.outputs["anomalies"],
        statistics=statistics_gen.outputs["statistics"],
        schema=schema_gen.outputs["schema"],
    )
    drift_gate = DriftGate(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        data_report=data_gate.outputs["report"],
        data_pattern=spans.pattern(cfg),
        baseline_spans=json.dumps(sorted(drift_spans or [])),
        thresholds=(schema_dir / THRESHOLDS_FILE.name).read_text(),
        mode=cfg.drift.mode,
        min_examples=cfg.data.min_examples,
        baseline_note=drift_note,
    )
    window = _span_window(cfg, example_gen)

    transform = Transform(
        examples=window.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN,
        custom_config=_fingerprinted(PREPROCESSING_FN, {}),
        # TFDV statistics of the data before and after the transform: nothing reads them (the
        # data gate has StatisticsGen's); TFDV passes over every span for nobody.
        disable_statistics=True,
        # TFT's analyzer cache serves a later run only when that run is given it as input, and
        # none is: writing it cost about 7 s of CPU and 300 MiB of peak memory per cold run.
        disable_analyzer_cache=True,
    )
    transform.add_upstream_node(drift_gate)

    trainer = Trainer(
        run_fn=TRAINER_FN,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        train_args=trainer_pb2.TrainArgs(num_steps=cfg.training.train_steps),
        eval_args=trainer_pb2.EvalArgs(num_steps=cfg.training.eval_steps),
        custom_config=_fingerprinted(
            TRAINER_FN,
            {
                "training": {
                    "batch_size": cfg.training.batch_size,
                    "learning_rate": cfg.training.learning_rate,
                    "seed": cfg.training.seed,
                    "hidden_units": cfg.training.hidden_units,
                    "early_stopping_patience": cfg.training.early_stopping_patience,
                }
            },
        ),
    )

    baseline_node = _baseline(cfg, baseline)

    evaluator = Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=(
            baseline_node.outputs[_baseline_key(baseline_node)]
            if baseline_node is not None
            else None
        ),
        schema=schema_gen.outputs["schema"],
        eval_config=eval_config(cfg.evaluation),
    )

    pusher = Pusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=pusher_pb2.PushDestination(
            filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=cfg.model_store_dir)
        ),
        custom_executor_spec=executor_spec.ExecutorClassSpec(atomic_pusher.Executor),
    )

    components = [
        example_gen,
        statistics_gen,
        schema_gen,
        example_validator,
        data_gate,
        drift_gate,
        window,
        transform,
        trainer,
        *([baseline_node] if baseline_node else []),
        evaluator,
        pusher,
    ]
    local = cfg.orchestration.runner == "local"
    return Pipeline(
        pipeline_name=cfg.pipeline_name,
        pipeline_root=cfg.paths.pipeline_root,
        components=components,
        enable_cache=True,
        metadata_connection_config=(
            metadata.sqlite_metadata_connection_config(cfg.paths.metadata) if local else None
        ),
        beam_pipeline_args=list(pipeline_beam_args(cfg)),
    )


def _example_gen(cfg: EnvironmentConfig, span: int | None = None) -> CsvExampleGen:
    """The newest span ({SPAN} resolved by TFX), or exactly `span` (to ingest a window span)."""
    return CsvExampleGen(
        input_base=cfg.data.root,
        input_config=example_gen_pb2.Input(
            splits=[example_gen_pb2.Input.Split(name="span", pattern=cfg.data.input_pattern)]
        ),
        output_config=example_gen_pb2.Output(
            split_config=example_gen_pb2.SplitConfig(
                splits=[
                    example_gen_pb2.SplitConfig.Split(
                        name="train", hash_buckets=cfg.data.train_buckets
                    ),
                    example_gen_pb2.SplitConfig.Split(
                        name="eval", hash_buckets=cfg.data.eval_buckets
                    ),
                ]
            )
        ),
        range_config=None
        if span is None
        else range_config_pb2.RangeConfig(
            static_range=range_config_pb2.StaticRange(start_span_number=span, end_span_number=span)
        ),
    )


def ingest_pipeline(cfg: EnvironmentConfig, span: int) -> Pipeline:
    """Only CsvExampleGen, for one older span of the window (local runs; cached once ingested).

    Same pipeline name and node id as the full pipeline, so the SpanWindow resolver finds the
    result in ML Metadata like any span an earlier run ingested.
    """
    return Pipeline(
        pipeline_name=cfg.pipeline_name,
        pipeline_root=cfg.paths.pipeline_root,
        components=[_example_gen(cfg, span)],
        enable_cache=True,
        metadata_connection_config=metadata.sqlite_metadata_connection_config(cfg.paths.metadata),
        beam_pipeline_args=list(pipeline_beam_args(cfg)),
    )


def _fingerprinted(function_path: str, custom_config: dict) -> dict:
    """`custom_config` plus the fingerprint of the code behind `function_path`: TFX's cache keys
    on it, so an edit to that code re-runs the component and everything after it."""
    return {**custom_config, user_code.FINGERPRINT_KEY: user_code.fingerprint(function_path)}


def _schema_importer(cfg: EnvironmentConfig, schema_file: Path) -> ImportSchemaGen:
    """Locally, the schema file's path. On Vertex AI, a path inside the installed `models`
    package, resolved in the pipeline image at run time: the compiled JSON must not hold a
    path of the machine that compiled it."""
    if cfg.orchestration.runner == "local":
        return ImportSchemaGen(schema_file=str(schema_file))
    return PackagedSchemaGen(schema_file=package_reference(schema_file)).with_id("ImportSchemaGen")


def _baseline(
    cfg: EnvironmentConfig, baseline: ReleasedBaseline | None
) -> Importer | Resolver | None:
    """Locally: the released model, imported (none before the first release). Vertex AI: the
    latest blessed model in its persistent ML Metadata."""
    if cfg.orchestration.runner == "local":
        if baseline is None:
            return None
        return Importer(
            source_uri=baseline.model_uri,
            artifact_type=standard_artifacts.Model,
            # The Evaluator reads <uri>/Format-Serving only for artifacts of this TFX version.
            custom_properties={
                "tfx_version": _tfx_version(),
                "release_digest": baseline.digest,
                "release_version": baseline.version,
            },
        ).with_id(BASELINE_IMPORTER)
    return Resolver(
        strategy_class=LatestBlessedModelStrategy,
        model=Channel(type=standard_artifacts.Model),
        model_blessing=Channel(type=standard_artifacts.ModelBlessing),
    ).with_id(BASELINE_RESOLVER)


def _baseline_key(node: Importer | Resolver) -> str:
    return "result" if isinstance(node, Importer) else "model"


def _tfx_version() -> str:
    from tfx import version

    return version.__version__


def window_spans(cfg: EnvironmentConfig) -> list[int]:
    """The newest data.window_spans span numbers under the data root (empty if there is none:
    then CsvExampleGen fails first, naming the pattern)."""
    return spans.window(cfg) if spans.available(cfg) else []


def _span_window(cfg: EnvironmentConfig, example_gen: CsvExampleGen) -> Resolver:
    """The newest `data.window_spans` spans for Transform and Trainer (evaluation: the newest).

    Vertex AI compiles only the stock latest-artifact resolvers, so there the window is the span
    this run ingested (config requires data.window_spans: 1 for kubeflow_v2).
    """
    if cfg.orchestration.runner == "local":
        resolver = Resolver(
            strategy_class=SpanWindowStrategy,
            config={"spans": window_spans(cfg)},
            examples=Channel(
                type=standard_artifacts.Examples,
                producer_component_id=example_gen.id,
                output_key="examples",
            ),
        )
        resolver.add_upstream_node(example_gen)  # after this run's span is ingested
    else:
        resolver = Resolver(
            strategy_class=LatestArtifactStrategy, examples=example_gen.outputs["examples"]
        )
    return resolver.with_id("SpanWindow")
