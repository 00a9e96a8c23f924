"""`mlops`: the one entry point that CI workflows and people both call.

Exit status: 0 success; 1 a gate stopped the run (data validation, NaN, model not blessed) or a
component failed; 2 the command line or an environment overlay is invalid.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from mlops import config
from mlops.errors import ConfigError, GateError, MlopsError


def _add_env(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--env", required=True, metavar="ENV",
                        help=f"{help_text} (one of: {', '.join(config.available_environments())})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlops",
        description="Run, compile and check the TFX pipeline of this repository, per environment "
                    "(environments/<env>/config.yaml over environments/base/config.yaml).")
    parser.add_argument("--environments", type=Path, default=config.ENVIRONMENTS_DIR,
                        metavar="DIR", help="folder holding base/ and one folder per environment "
                                            "(default: %(default)s)")
    parser.add_argument("--debug", action="store_true",
                        help="show Python tracebacks for unexpected failures")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the pipeline locally (LocalDagRunner, SQLite MLMD)",
                         description="Run the whole pipeline for a local environment: ingest, "
                                     "validate, transform, train, evaluate, push. Unchanged "
                                     "data, code and config reuse cached results.")
    _add_env(run, "environment to run")
    run.add_argument("--data", metavar="DIR", help="read span folders from DIR instead of the "
                                                   "environment's data.root")
    run.add_argument("--output", metavar="DIR", help="write pipeline artifacts, ML Metadata and "
                                                     "the model store under DIR")

    comp = sub.add_parser("compile", help="compile a kubeflow_v2 environment to pipeline JSON",
                          description="Compile the pipeline for Vertex AI Pipelines / Kubeflow "
                                      "Pipelines v2, offline, to the environment's "
                                      "orchestration.compiled_pipeline.")
    _add_env(comp, "environment to compile")

    schema = sub.add_parser("schema", help="schema tools")
    schema_sub = schema.add_subparsers(dest="schema_command", required=True, metavar="ACTION")
    draft = schema_sub.add_parser("draft", help="infer a draft schema from the newest span, for "
                                                "review against components/schema/schema.pbtxt")
    _add_env(draft, "environment whose data to read")
    draft.add_argument("--data", metavar="DIR", help="read span folders from DIR")
    draft.add_argument("--output", type=Path, default=Path("build/schema_draft.pbtxt"),
                       help="where to write the draft (default: %(default)s)")

    serve = sub.add_parser(
        "serve", help="serve the environment's model with TF Serving (or the local stand-in)",
        description="Render the TF Serving config files from the environment and start a "
                    "server: tensorflow_model_server if on PATH, else Docker "
                    "(tensorflow/serving), else the local stand-in. Returns when a version is "
                    "AVAILABLE with --detach; otherwise serves until Ctrl-C.")
    _add_env(serve, "environment to serve")
    serve.add_argument("--backend", default="auto",
                       choices=["auto", "binary", "docker", "local"],
                       help="force a backend (default: the first available, in that order)")
    serve.add_argument("--version", type=int, action="append", metavar="N",
                       help="serve version N (repeatable); required by a `specific` policy "
                            "until a release record names it")
    serve.add_argument("--output", metavar="DIR", help="the --output folder of `mlops run`")
    mode = serve.add_mutually_exclusive_group()
    mode.add_argument("--detach", action="store_true",
                      help="return once ready and leave the server running")
    mode.add_argument("--stop", action="store_true", help="stop the server started with "
                                                          "--detach")

    predict = sub.add_parser("predict", help="send rows from a CSV file to the served model",
                             description="Build tf.Examples from CSV rows with the training "
                                         "schema and print one probability per row.")
    _add_env(predict, "environment whose server to call")
    predict.add_argument("--rows", type=Path, required=True, metavar="FILE.csv")
    predict.add_argument("--protocol", choices=["rest", "grpc"], default="rest")
    predict.add_argument("--url", help="REST base URL or gRPC host:port (default: the "
                                       "environment's serving host and ports)")
    predict.add_argument("--model-version", type=int, metavar="N",
                         help="ask for version N instead of the newest")
    predict.add_argument("--output", metavar="DIR", help=argparse.SUPPRESS)

    loadtest = sub.add_parser(
        "loadtest", help="the locust load-test gate against a served model",
        description="Post evaluation rows to :predict with locust (headless), drop the warm-up, "
                    "and check the environment's SLOs (loadtest.slo). Exit 1 on any breach.")
    _add_env(loadtest, "environment whose load shape and SLOs to use")
    loadtest.add_argument("--url", help="REST base URL (default: the environment's server)")
    loadtest.add_argument("--rows", type=Path, metavar="FILE.csv",
                          help="send these rows instead of the pipeline's evaluation split")
    loadtest.add_argument("--output", metavar="DIR", help="the --output folder of `mlops run`")
    loadtest.add_argument("--seconds", type=int, help="override loadtest.run_seconds")
    loadtest.add_argument("--users", type=int, help="override loadtest.users")

    check = sub.add_parser("config", help="validate every environment overlay and print one",
                           description="Load and validate all environments; with --env, also "
                                       "print the merged configuration of that one.")
    check.add_argument("--env", metavar="ENV", help="print this environment's merged config")
    return parser


def _cmd_run(args: argparse.Namespace) -> int:
    from pipeline.runner import run_local

    cfg = config.load(args.env, args.environments, data_root=args.data, output_root=args.output)
    summary = run_local(cfg)
    print(summary.render())
    if summary.blessed is False:
        raise GateError("model validation failed: the model was not blessed (reasons above); "
                        "nothing was pushed")
    return 0


def _cmd_compile(args: argparse.Namespace) -> int:
    from pipeline.runner import compile_kubeflow

    cfg = config.load(args.env, args.environments)
    print(f"Compiled {cfg.pipeline_name} for {cfg.name}: {compile_kubeflow(cfg)}")
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from pipeline.schema_draft import draft_schema

    cfg = config.load(args.env, args.environments, data_root=args.data)
    path = draft_schema(cfg, args.output)
    print(f"Draft schema written to {path}. Compare it with components/schema/schema.pbtxt "
          f"(e.g. `diff {path} components/schema/schema.pbtxt`); copy over only what you "
          f"have reviewed.")
    return 0


def _cmd_config(args: argparse.Namespace) -> int:
    import dataclasses

    import yaml

    names = config.available_environments(args.environments)
    if not names:
        raise ConfigError(f"no environments found in {args.environments}")
    loaded = {name: config.load(name, args.environments) for name in names}
    for name, cfg in loaded.items():
        print(f"{name}: ok ({' + '.join(cfg.sources)})")
    if args.env:
        cfg = loaded.get(args.env) or config.load(args.env, args.environments)
        print(yaml.safe_dump(dataclasses.asdict(cfg), sort_keys=False))
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    import time

    from serving import backends

    cfg = config.load(args.env, args.environments, output_root=args.output)
    if args.stop:
        handle = backends.read_state(cfg)
        if handle is None or not backends.is_running(handle):
            print(f"No server is running for {cfg.name}.")
            if handle is not None:
                backends.stop(handle, cfg)
            return 0
        backends.stop(handle, cfg)
        print(f"Stopped {handle.describe()}")
        return 0
    backend = backends.choose_backend(args.backend)
    handle = backends.start(cfg, backend, versions=args.version)
    print(f"Starting {handle.describe()} (log: {handle.log_file})", flush=True)
    try:
        states = backends.wait_ready(handle, cfg.serving.readiness_timeout_seconds)
    except BaseException:
        backends.stop(handle, cfg)
        raise
    shown = ", ".join(f"version {v} {s}" for v, s in sorted(states.items()))
    print(f"Serving {cfg.model_name} ({shown}) at {handle.rest_url}/v1/models/{cfg.model_name}")
    if args.detach:
        print(f"Stop it with: mlops serve --env {cfg.name} --stop")
        return 0
    print("Press Ctrl-C to stop.", flush=True)
    try:
        while backends.is_running(handle):
            time.sleep(1)
        raise MlopsError(f"the server exited; its log ends with:\n{backends.log_tail(handle)}")
    finally:
        backends.stop(handle, cfg)


def _server_urls(cfg: config.EnvironmentConfig) -> tuple[str, str]:
    from serving import backends

    handle = backends.read_state(cfg)
    if handle is not None and backends.is_running(handle):
        return handle.rest_url, handle.grpc_target
    s = cfg.serving
    return f"http://{s.host}:{s.rest_port}", f"{s.host}:{s.grpc_port}"


def _cmd_predict(args: argparse.Namespace) -> int:
    from components import rows as R
    from serving.client import GrpcClient, RestClient

    cfg = config.load(args.env, args.environments, output_root=args.output)
    try:
        rows = R.read_csv(args.rows, R.load_schema())
    except OSError as exc:
        raise ConfigError(f"--rows: cannot read {args.rows}: {exc.strerror}") from None
    except R.RowError as exc:
        raise ConfigError(f"--rows: {exc}") from None
    rest, grpc_target = _server_urls(cfg)
    if args.protocol == "rest":
        client = RestClient(args.url or rest, cfg.model_name)
    else:
        client = GrpcClient(args.url or grpc_target, cfg.model_name)
    probabilities = client.predict(R.examples(rows), version=args.model_version)
    print("row  probability(big_tipper)")
    for i, p in enumerate(probabilities[:, 0], start=1):
        print(f"{i:>3}  {p:.4f}")
    return 0


def _cmd_loadtest(args: argparse.Namespace) -> int:
    from pathlib import Path as _Path

    from serving import loadtest

    cfg = config.load(args.env, args.environments, output_root=args.output)
    for flag, value in (("--seconds", args.seconds), ("--users", args.users)):
        if value is not None and value < 1:
            raise ConfigError(f"{flag}: must be >= 1, got {value}")
    url = args.url or _server_urls(cfg)[0]
    if args.rows:
        try:
            examples = loadtest.csv_examples(args.rows, cfg.loadtest.rows)
        except OSError as exc:
            raise ConfigError(f"--rows: cannot read {args.rows}: {exc.strerror}") from None
        except ValueError as exc:
            raise ConfigError(f"--rows: {exc}") from None
    else:
        examples = loadtest.eval_examples(cfg, cfg.loadtest.rows)
    from serving.client import PredictionError, RestClient

    try:
        RestClient(url, cfg.model_name, timeout=10).status()
    except PredictionError as exc:
        raise MlopsError(f"no model server answers: {exc}") from None
    print(f"Load test of {url} for {cfg.name}: {cfg.loadtest.warmup_seconds} s warm-up, then "
          f"{args.seconds or cfg.loadtest.run_seconds} s measured with "
          f"{args.users or cfg.loadtest.users} users, {len(examples)} evaluation rows",
          flush=True)
    result = loadtest.run(cfg, url, examples, _Path(cfg.work_dir) / "loadtest",
                          users=args.users, seconds=args.seconds)
    print(result.table())
    loadtest.gate(result)
    return 0


COMMANDS = {"run": _cmd_run, "compile": _cmd_compile, "schema": _cmd_schema,
            "config": _cmd_config, "serve": _cmd_serve, "predict": _cmd_predict,
            "loadtest": _cmd_loadtest}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except MlopsError as exc:
        label = "stopped" if isinstance(exc, GateError) else "error"
        print(f"\nmlops {args.command}: {label}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"\nmlops {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        print(f"\nmlops {args.command}: unexpected failure: {type(exc).__name__}: {exc}\n"
              f"(run again with `mlops --debug {args.command} ...` for the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
