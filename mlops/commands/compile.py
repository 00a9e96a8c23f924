"""`mlops compile`: a kubeflow_v2 environment's pipeline as JSON, offline."""

from __future__ import annotations

import argparse

from core import config
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
    return 0
