"""`mlops compile`: a kubeflow_v2 environment's pipeline as JSON, offline."""

from __future__ import annotations

import argparse
import sys

from core import config, registry_setup
from mlops.arguments import Subparsers, add_env
from pipeline.runner import compile_kubeflow


def add_parser(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "compile",
        help="compile a kubeflow_v2 environment to pipeline JSON",
        description="Compile the pipeline for Vertex AI Pipelines / Kubeflow "
        "Pipelines v2, offline, to the environment's "
        "orchestration.compiled_pipeline.",
    )
    add_env(parser, "environment to compile")


def run(args: argparse.Namespace) -> int:
    cfg = config.load(args.env, args.environments)
    print(
        f"Compiled {cfg.pipeline_name} for {cfg.name}: {compile_kubeflow(cfg, args.environments)}"
    )
    placeholder = registry_setup.placeholder_problem(cfg)
    if placeholder is not None:  # offline compiles are fine; running this JSON is not
        print(
            f"note: {placeholder}, so the compiled Pusher publishes to "
            f"{cfg.model_store_dir}; export {registry_setup.NAMESPACE_VARIABLE}=owner/repo "
            f"(or MODEL_REGISTRY) and compile again before you run it",
            file=sys.stderr,
        )
    return 0
