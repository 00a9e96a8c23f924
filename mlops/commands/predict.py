"""`mlops predict`: CSV rows to the served model, one probability of the label per row."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from core import config
from core.errors import ConfigError
from mlops.arguments import Subparsers, add_env
from models import features
from serving.backends import check_versions, server_urls
from serving.client import (
    GrpcClient,
    PredictionError,
    RestClient,
    check_grpc_target,
    check_rest_url,
    predict_in_batches,
)
from store import rows as R
from store.model_store import open_store


def add_parser(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "predict",
        help="send rows from a CSV file to the served model",
        description="Build tf.Examples from CSV rows with the training "
        "schema and print one probability per row.",
    )
    add_env(parser, "environment whose server to call")
    parser.add_argument(
        "--rows",
        type=Path,
        required=True,
        metavar="FILE.csv",
        help="CSV with a header row naming schema features (the bundled "
        "data's columns; those the schema leaves out of the SERVING environment may be "
        "left out); every feature the schema requires must have a value in every row",
    )
    parser.add_argument(
        "--protocol",
        choices=["rest", "grpc"],
        default="rest",
        help="call TF Serving's REST :predict or gRPC PredictionService (default: %(default)s)",
    )
    parser.add_argument(
        "--url",
        help="REST base URL or gRPC host:port (default: the environment's serving host and ports)",
    )
    parser.add_argument(
        "--model-version", type=int, metavar="N", help="ask for version N instead of the newest"
    )
    parser.add_argument("--output", metavar="DIR", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    cfg = config.load(args.env, args.environments, output_root=args.output)
    try:
        rows = R.read_csv(args.rows, R.load_schema())
    except OSError as exc:
        raise ConfigError(f"--rows: cannot read {args.rows}: {exc.strerror}") from None
    except R.RowError as exc:
        raise ConfigError(f"--rows: {exc}") from None
    rest, grpc_target = server_urls(cfg)
    client: RestClient | GrpcClient
    if args.protocol == "rest":
        url = rest if args.url is None else check_rest_url(args.url, "--url")
        client = RestClient(url, cfg.model_name)
    else:
        target = grpc_target if args.url is None else check_grpc_target(args.url, "--url")
        client = GrpcClient(target, cfg.model_name)
    version = args.model_version
    if version is not None and args.url is None:  # the environment's server serves its store
        store = open_store(cfg.model_store_dir)
        check_versions([version], store.versions(), store.uri, "--model-version")
    try:
        probabilities = predict_in_batches(
            client, R.examples(rows), cfg.serving.batching, version=version
        )
    except PredictionError as exc:
        if version is None or not exc.not_found:
            raise
        raise ConfigError(
            f"--model-version {version}: the server does not serve that version ({exc}); "
            f"serve it with `mlops serve --env {cfg.name} --version {version}`"
        ) from None
    for line in prediction_lines(probabilities):
        print(line)
    return 0


def prediction_lines(outputs: np.ndarray) -> list[str]:
    """The served outputs as a person reads them, per models/features.py's TASK: the
    probability of the positive class, the predicted class with its probability, or the value."""
    if features.TASK == "multiclass":
        lines = [f"row  {features.LABEL_KEY}  probability"]
        for i, row in enumerate(outputs, start=1):
            best = int(np.argmax(row))
            lines.append(f"{i:>3}  {features.CLASSES[best]}  {row[best]:.4f}")
        return lines
    if features.TASK == "regression":
        header = f"row  {features.LABEL_KEY}"
        return [header] + [f"{i:>3}  {v:.4f}" for i, v in enumerate(outputs[:, 0], start=1)]
    header = f"row  probability({features.LABEL_KEY})"
    return [header] + [f"{i:>3}  {p:.4f}" for i, p in enumerate(outputs[:, 0], start=1)]
