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


COMMANDS = {"run": _cmd_run, "compile": _cmd_compile, "schema": _cmd_schema,
            "config": _cmd_config}


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
