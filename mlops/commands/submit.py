"""`mlops submit`: run a compiled kubeflow_v2 pipeline on Vertex AI Pipelines."""

from __future__ import annotations

import argparse
from pathlib import Path

from core import config
from delivery import vertex_submit
from mlops.arguments import Subparsers, add_env


def add_parser(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "submit",
        help="submit a compiled kubeflow_v2 pipeline to Vertex AI Pipelines",
        description="Submit the JSON `mlops compile` wrote to Vertex AI Pipelines, with the "
        "environment's project, region, pipeline root, service account and parameters, "
        "labelled with the source commit and the image digest. Credentials: Application "
        "Default Credentials (in CI, google-github-actions/auth through OIDC).",
    )
    add_env(parser, "environment to submit")
    parser.add_argument(
        "--compiled",
        metavar="FILE",
        type=Path,
        help="the compiled JSON (default: the environment's orchestration.compiled_pipeline)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="check the environment and the compiled JSON, print the run, submit nothing",
    )


def run(args: argparse.Namespace) -> int:
    cfg = config.load(args.env, args.environments)
    plan = vertex_submit.plan(cfg, args.compiled)
    labels = ", ".join(f"{k}={v}" for k, v in plan.labels.items())
    print(
        f"{cfg.name}: {plan.display_name} on Vertex AI project {plan.project}, region "
        f"{plan.location}\n  pipeline root: {plan.pipeline_root}\n  image: {plan.image}\n"
        f"  service account: {plan.service_account or '(the project default)'}\n"
        f"  labels: {labels}"
    )
    if args.dry_run:
        return 0
    job = vertex_submit.build_job(plan)
    print(f"Submitted: {vertex_submit.submit(job, plan)}")
    return 0
