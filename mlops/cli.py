"""`mlops`: the one entry point that CI workflows and people both call.

Exit status (EXIT_CODES, documented in README.md): 0 success; 1 a gate stopped the run (data
validation, NaN, model not blessed, a promotion rule) or a component failed; 2 the command line or
an environment overlay is invalid; 3 infrastructure: a store, registry or server could not be
reached or refused the credentials; 4 (`mlops ct check` only) no retrain needed.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from core import config, step_summary
from core.errors import ConfigError, GateError, InfraError, MlopsError

# Every status `main` returns besides 130 (Ctrl-C); a test holds README.md to this list.
EXIT_CODES = {
    0: "success",
    GateError.exit_code: "a gate stopped the run or a rule refused",
    ConfigError.exit_code: "bad command line or configuration",
    InfraError.exit_code: "infrastructure: store, registry or server unreachable or "
    "credentials refused",
    4: "no retrain needed (`mlops ct check` only)",
}


def _add_env(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument(
        "--env",
        required=True,
        metavar="ENV",
        help=f"{help_text} (one of: {', '.join(config.available_environments())})",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlops",
        description="Run, compile and check the TFX pipeline of this repository, per environment "
        "(environments/<env>/config.yaml over environments/base/config.yaml).",
    )
    parser.add_argument("--version", action="version", version=_version_line())
    parser.add_argument(
        "--root",
        type=Path,
        metavar="DIR",
        help="repository root: relative paths in the configs (data.root, "
        "paths.*), build/ and infra/ resolve against it (default: the "
        "folder holding --environments, i.e. this checkout)",
    )
    parser.add_argument(
        "--environments",
        type=Path,
        metavar="DIR",
        help="folder holding base/ and one folder per environment; it must be "
        f"ROOT/environments (default: {config.ENVIRONMENTS_DIR})",
    )
    parser.add_argument(
        "--debug", action="store_true", help="show Python tracebacks for unexpected failures"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="run the pipeline locally (LocalDagRunner, SQLite MLMD)",
        description="Run the whole pipeline for a local environment: ingest, "
        "validate, transform, train, evaluate, push. Unchanged "
        "data, code and config reuse cached results.",
    )
    _add_env(run, "environment to run")
    run.add_argument(
        "--data",
        metavar="DIR",
        help="read span folders from DIR instead of the environment's data.root",
    )
    run.add_argument(
        "--output",
        metavar="DIR",
        help="write pipeline artifacts, ML Metadata and the model store under DIR",
    )

    comp = sub.add_parser(
        "compile",
        help="compile a kubeflow_v2 environment to pipeline JSON",
        description="Compile the pipeline for Vertex AI Pipelines / Kubeflow "
        "Pipelines v2, offline, to the environment's "
        "orchestration.compiled_pipeline.",
    )
    _add_env(comp, "environment to compile")

    schema = sub.add_parser(
        "schema",
        help="schema tools",
        description="Tools around the curated schema (models/schema/schema.pbtxt).",
    )
    schema_sub = schema.add_subparsers(dest="schema_command", required=True, metavar="ACTION")
    draft = schema_sub.add_parser(
        "draft",
        help="infer a draft schema from the newest span, for "
        "review against models/schema/schema.pbtxt",
        description="Infer a schema from the newest span with TFDV "
        "and write it for review; the curated schema is "
        "never replaced automatically.",
    )
    _add_env(draft, "environment whose data to read")
    draft.add_argument("--data", metavar="DIR", help="read span folders from DIR")
    draft.add_argument(
        "--output",
        type=Path,
        default=Path("build/schema_draft.pbtxt"),
        help="where to write the draft (default: %(default)s)",
    )

    serve = sub.add_parser(
        "serve",
        help="serve the environment's model with TF Serving (or the local stand-in)",
        description="Render the TF Serving config files from the environment and start a "
        "server: tensorflow_model_server if on PATH, else Docker "
        "(tensorflow/serving), else the local stand-in. Returns when a version is "
        "AVAILABLE with --detach; otherwise serves until Ctrl-C.",
    )
    _add_env(serve, "environment to serve")
    serve.add_argument(
        "--backend",
        default="auto",
        choices=["auto", "binary", "docker", "local"],
        help="force a backend (default: the first available, in that order)",
    )
    serve.add_argument(
        "--version",
        type=int,
        action="append",
        metavar="N",
        help="serve version N (repeatable); required by a `specific` policy "
        "until a release record names it",
    )
    serve.add_argument("--output", metavar="DIR", help="the --output folder of `mlops run`")
    mode = serve.add_mutually_exclusive_group()
    mode.add_argument(
        "--detach", action="store_true", help="return once ready and leave the server running"
    )
    mode.add_argument("--stop", action="store_true", help="stop the server started with --detach")

    predict = sub.add_parser(
        "predict",
        help="send rows from a CSV file to the served model",
        description="Build tf.Examples from CSV rows with the training "
        "schema and print one probability per row.",
    )
    _add_env(predict, "environment whose server to call")
    predict.add_argument(
        "--rows",
        type=Path,
        required=True,
        metavar="FILE.csv",
        help="CSV with a header row naming schema features (the bundled "
        "data's columns; `tips` may be left out); every feature the "
        "schema requires must have a value in every row",
    )
    predict.add_argument(
        "--protocol",
        choices=["rest", "grpc"],
        default="rest",
        help="call TF Serving's REST :predict or gRPC PredictionService (default: %(default)s)",
    )
    predict.add_argument(
        "--url",
        help="REST base URL or gRPC host:port (default: the environment's serving host and ports)",
    )
    predict.add_argument(
        "--model-version", type=int, metavar="N", help="ask for version N instead of the newest"
    )
    predict.add_argument("--output", metavar="DIR", help=argparse.SUPPRESS)

    loadtest = sub.add_parser(
        "loadtest",
        help="the locust load-test gate against a served model",
        description="Post evaluation rows to :predict with locust (headless), drop the warm-up, "
        "and check the environment's SLOs (loadtest.slo). Exit 1 on any breach.",
    )
    _add_env(loadtest, "environment whose load shape and SLOs to use")
    loadtest.add_argument("--url", help="REST base URL (default: the environment's server)")
    loadtest.add_argument(
        "--rows",
        type=Path,
        metavar="FILE.csv",
        help="send these rows instead of the pipeline's evaluation split",
    )
    loadtest.add_argument("--output", metavar="DIR", help="the --output folder of `mlops run`")
    loadtest.add_argument("--seconds", type=int, help="override loadtest.run_seconds")
    loadtest.add_argument("--users", type=int, help="override loadtest.users")
    loadtest.add_argument(
        "--record",
        action="store_true",
        help="write the verdict into the environment's release record",
    )

    promote = sub.add_parser(
        "promote",
        help="promote a release: pipeline -> dev -> staging -> prod",
        description="Write the target environment's release record and re-render its "
        "manifests. `--to dev` takes the newest model the pipeline pushed; "
        "`--from A --to B` copies A's artifact (same version and digest) after "
        "checking the promotion rules. Commit the changed files.",
    )
    promote.add_argument(
        "--from",
        dest="source",
        metavar="ENV",
        help="environment whose release to promote (omit for the pipeline)",
    )
    promote.add_argument(
        "--to",
        dest="target",
        required=True,
        metavar="ENV",
        help=f"environment to promote to (one of: {', '.join(config.available_environments())})",
    )
    promote.add_argument(
        "--output", metavar="DIR", help="the --output folder of `mlops run` (with --to dev)"
    )
    promote.add_argument(
        "--summary",
        type=Path,
        metavar="FILE",
        help="with --to dev: promote exactly the candidate this run summary "
        "(run_summary.json of `mlops run`) names, e.g. one CI uploaded",
    )
    promote.add_argument(
        "--defer-store",
        action="store_true",
        help="write the record and manifests only (for a promotion pull "
        "request); `mlops sync` moves the registry tag after the merge",
    )
    promote.add_argument(
        "--ok-if-current",
        action="store_true",
        help="exit 0 when the target already runs that release (re-runs)",
    )
    promote.add_argument(
        "--expect-version",
        type=int,
        metavar="N",
        help="refuse unless the release being promoted is version N (what a "
        "person approved in the prod workflow)",
    )

    rollback = sub.add_parser(
        "rollback",
        help="return an environment to its previous release",
        description="Replace the release record with the previous "
        "release from its history, exactly, after checking "
        "that artifact's digest; re-render the manifests.",
    )
    _add_env(rollback, "environment to roll back")

    sync = sub.add_parser(
        "sync",
        help="move the environment's registry tag to its merged release record",
        description="After a promotion pull request (`promote --defer-store`) merged: make the "
        "model store match the release record (tag the same digest, or copy it to "
        "the environment's registry). The tag may move only from the previous "
        "release; anything else is refused (tag-matches).",
    )
    _add_env(sync, "environment whose store to sync")
    sub.add_parser(
        "status",
        help="every environment's release, age, metrics, load test, and what is pending promotion",
        description="Show, per environment in release order (deploy.promote_from), "
        "the released model version, short digest, age, gated metric "
        "and load-test verdict from environments/<env>/release.yaml, "
        "then which promotions are pending and what they wait for. "
        "Changes nothing.",
    )

    render = sub.add_parser(
        "render",
        help="render Kubernetes manifests from config and release records",
        description="Write environments/<env>/manifests/ and "
        "environments/<env>/argocd/application.yaml; with --check, "
        "change nothing and fail if any committed file is stale.",
    )
    render.add_argument("--env", metavar="ENV", help="only this environment (default: all)")
    render.add_argument(
        "--check",
        action="store_true",
        help="fail (exit 1) when committed manifests differ from a fresh render",
    )

    check = sub.add_parser(
        "config",
        help="validate every environment overlay and print one",
        description="Load and validate all environments; with --env, also "
        "print the merged configuration of that one.",
    )
    check.add_argument("--env", metavar="ENV", help="print this environment's merged config")
    _add_ct(sub)
    return parser


NO_RETRAIN = 4  # `mlops ct check`: nothing to do (0 means: retrain); in EXIT_CODES


def _add_ct(sub: argparse._SubParsersAction) -> None:
    ct = sub.add_parser(
        "ct",
        help="continuous training: decide whether to retrain",
        description="Continuous training. `check` prints one line per reason to "
        "retrain (new span, drift, decay, release age) and exits 0 "
        "when a retrain is needed, 4 when not.",
    )
    ct_sub = ct.add_subparsers(dest="ct_command", required=True, metavar="SUBCOMMAND")
    ct_check = ct_sub.add_parser(
        "check",
        help="whether ENV should retrain now, and why",
        description="One line per reason to retrain ENV's released model: a new span, drift "
        "above models/schema/drift.yaml, decay below "
        "continuous_training.decay_floor on the newest labelled span, or a release "
        "older than continuous_training.max_release_age_days. Exit 0: retrain; "
        "exit 4: no retrain needed. Appends retrain=/reasons= to $GITHUB_OUTPUT.",
    )
    _add_env(ct_check, "environment whose release to check")
    ct_check.add_argument(
        "--data",
        metavar="DIR",
        help="read span folders from DIR instead of the environment's data.root",
    )
    ct_check.add_argument(
        "--output", metavar="DIR", help="local working folder (as for `mlops run --output`)"
    )


def _cmd_run(args: argparse.Namespace) -> int:
    from pipeline.runner import run_local

    cfg = config.load(args.env, args.environments, data_root=args.data, output_root=args.output)
    baseline, note = _released_baseline(args.environments, cfg)
    summary = run_local(
        cfg, baseline=baseline, baseline_note=note, environments_dir=args.environments
    )
    print(summary.render())
    step_summary.append(summary.markdown())
    if summary.blessed is False:
        raise GateError(
            "model validation failed: the model was not blessed (reasons above); nothing was pushed"
        )
    return 0


def _released_baseline(environments: Path, cfg: config.EnvironmentConfig):
    """The model released in the environment this run feeds, pulled by digest, or why none."""
    from components.baseline import import_release
    from core.errors import InfraError
    from delivery.promotion import PromotionRefused, artifact_of
    from store import release as rel

    if cfg.deploy.promote_from or cfg.orchestration.runner != "local":
        return None, ""
    record = rel.read(environments, cfg.name)
    if record is None:
        return None, (f"{cfg.name} has no release yet in environments/{cfg.name}/release.yaml")
    try:
        return import_release(cfg.name, artifact_of(record.current), Path(cfg.work_dir)), ""
    except InfraError:
        raise
    except MlopsError as exc:
        raise PromotionRefused(
            getattr(exc, "rule", "baseline"),
            f"the baseline, {cfg.name}'s "
            f"release {record.current.short()}, cannot be read: {exc}. The "
            f"regression gate needs it; restore the artifact or roll back "
            f"the record",
        ) from None


def _cmd_compile(args: argparse.Namespace) -> int:
    from pipeline.runner import compile_kubeflow

    cfg = config.load(args.env, args.environments)
    print(
        f"Compiled {cfg.pipeline_name} for {cfg.name}: {compile_kubeflow(cfg, args.environments)}"
    )
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from pipeline.schema_draft import draft_schema

    cfg = config.load(args.env, args.environments, data_root=args.data)
    path = draft_schema(cfg, args.output)
    print(
        f"Draft schema written to {path}. Compare it with models/schema/schema.pbtxt "
        f"(e.g. `diff {path} models/schema/schema.pbtxt`); copy over only what you "
        f"have reviewed."
    )
    return 0


def _cmd_config(args: argparse.Namespace) -> int:
    import dataclasses

    import yaml

    names = config.available_environments(args.environments)
    if not names:
        raise ConfigError(f"no environments found in {args.environments}")
    loaded = {name: config.load(name, args.environments) for name in names}
    for name, cfg in loaded.items():  # stderr: stdout holds only the YAML, for tools to parse
        print(f"{name}: ok ({' + '.join(cfg.sources)})", file=sys.stderr)
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
    versions, labels, source = args.version, None, "--version"
    from store import release as rel

    record = rel.read(args.environments, cfg.name)
    if not versions and cfg.serving.version_policy == "specific" and record is not None:
        # serve what the environment's release record names
        versions, labels = [record.current.version], {"stable": record.current.version}
        source = config.show_path(rel.record_path(args.environments, cfg.name))
    if versions:  # every store kind lists its versions at once; a server would wait it out
        from store.model_store import open_store

        backends.check_versions(
            versions, open_store(cfg.model_store_dir).versions(), cfg.model_store_dir, source
        )
    backend = backends.choose_backend(args.backend)
    store_dir = _pulled_store(cfg, record, versions)
    handle = backends.start(cfg, backend, versions=versions, labels=labels, store_dir=store_dir)
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


def _pulled_store(cfg: config.EnvironmentConfig, record, versions: list[int] | None) -> str | None:
    """For a registry store: pull the versions to serve (both digests checked) into a local
    folder TF Serving can poll; None when the store is already one."""
    import os
    import shutil

    from delivery.promotion import artifact_of
    from store.model_store import ArtifactMissing, open_store

    store = open_store(cfg.model_store_dir)
    if store.kind != "oci":
        return None
    if versions:
        wanted = []
        for version in versions:
            found = store.resolve(version)
            if found is None:  # removed since check_versions listed it
                raise ArtifactMissing(
                    f"--version {version}: {store.uri} has no version "
                    f"{version} (it has: {store.versions() or 'none'})"
                )
            wanted.append(found)
    elif record is not None:
        wanted = [artifact_of(record.current)]
    else:
        newest = store.newest()
        if newest is None:
            raise MlopsError(
                f"no model version in {store.uri}: run `mlops run --env "
                f"{cfg.name}` first (it pushes blessed models there)"
            )
        wanted = [newest]
    served = Path(cfg.work_dir) / "serving" / "store" / cfg.model_name
    for artifact in wanted:
        pulled = store.materialize(artifact, Path(cfg.work_dir) / "models")
        target = served / str(artifact.version)
        if not target.exists():
            partial = served / f".{artifact.version}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            shutil.copytree(pulled, partial, copy_function=os.link)
            partial.rename(target)
    return str(served)


def _server_urls(cfg: config.EnvironmentConfig) -> tuple[str, str]:
    from serving import backends

    handle = backends.read_state(cfg)
    if handle is not None and backends.is_running(handle):
        return handle.rest_url, handle.grpc_target
    s = cfg.serving
    return f"http://{s.host}:{s.rest_port}", f"{s.host}:{s.grpc_port}"


def _cmd_predict(args: argparse.Namespace) -> int:
    from serving.client import GrpcClient, RestClient
    from store import rows as R

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
    import numpy as np

    # A batching server refuses a request above max_batch_size (as TF Serving does): send
    # requests of at most that many rows.
    examples = R.examples(rows)
    step = cfg.serving.batching.max_batch_size if cfg.serving.batching.enabled else len(examples)
    step = max(1, step)
    probabilities = np.concatenate(
        [
            client.predict(examples[i : i + step], version=args.model_version)
            for i in range(0, len(examples), step)
        ]
    )
    print("row  probability(big_tipper)")
    for i, p in enumerate(probabilities[:, 0], start=1):
        print(f"{i:>3}  {p:.4f}")
    return 0


def _cmd_loadtest(args: argparse.Namespace) -> int:
    from serving import loadtest

    cfg = config.load(args.env, args.environments, output_root=args.output)
    for flag, value in (("--seconds", args.seconds), ("--users", args.users)):
        if value is not None and value < 1:
            raise ConfigError(f"{flag}: must be >= 1, got {value}")
    url = args.url or _server_urls(cfg)[0]
    rows, where = args.rows, "--rows"
    if rows is None and not loadtest.has_eval_split(cfg) and cfg.loadtest.rows_file:
        rows, where = Path(cfg.loadtest.rows_file), "loadtest.rows_file"
        print(
            f"No evaluation split of {cfg.name}'s pipeline on this machine; sending rows "
            f"from {rows} (loadtest.rows_file)"
        )
    if rows is not None:
        try:
            examples = loadtest.csv_examples(rows, cfg.loadtest.rows)
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read {rows}: {exc.strerror}") from None
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    else:
        examples = loadtest.eval_examples(cfg, cfg.loadtest.rows)
    from serving.client import PredictionError, RestClient

    client = RestClient(url, cfg.model_name, timeout=10)
    try:
        client.status()
    except PredictionError as exc:
        raise MlopsError(f"no model server answers: {exc}") from None
    if args.record:
        _check_serves_the_release(args, cfg, client)
    print(
        f"Load test of {url} for {cfg.name}: {cfg.loadtest.warmup_seconds} s warm-up, then "
        f"{args.seconds or cfg.loadtest.run_seconds} s measured with "
        f"{args.users or cfg.loadtest.users} users, {len(examples)} evaluation rows",
        flush=True,
    )
    result = loadtest.run(
        cfg, url, examples, Path(cfg.work_dir) / "loadtest", users=args.users, seconds=args.seconds
    )
    print(result.table())
    if args.record:
        from delivery.promotion import Delivery

        record = Delivery(args.environments).record_loadtest(
            cfg.name,
            "PASS" if result.passed else "FAIL",
            result.reports_dir,
            p95_ms=result.p95_ms,
            p99_ms=result.p99_ms,
            rps=result.rps,
            failure_ratio=result.failures / result.requests if result.requests else 1.0,
        )
        print(
            f"Recorded {'PASS' if result.passed else 'FAIL'} for {cfg.name}'s "
            f"{record.current.short()} in "
            f"{config.show_path(args.environments / cfg.name / 'release.yaml')}"
        )
    loadtest.gate(result)
    return 0


def _check_serves_the_release(
    args: argparse.Namespace, cfg: config.EnvironmentConfig, client
) -> None:
    """A recorded verdict must be about the release the record names, not another version."""
    from delivery.promotion import PromotionRefused
    from serving.client import PredictionError
    from store import release as rel

    record = rel.read(args.environments, cfg.name)
    if record is None:
        raise PromotionRefused(
            "source-released",
            f"{cfg.name} has no release to attach a load test to; promote to {cfg.name} first",
        )
    version = record.current.version
    try:
        states = {s["state"] for s in client.status(version)["model_version_status"]}
    except PredictionError:
        states = set()
    if "AVAILABLE" not in states:
        raise PromotionRefused(
            "serves-the-release",
            f"the server at {client.base_url} does not "
            f"serve {cfg.name}'s release version {version}; a verdict "
            f"recorded now would describe another model",
        )


def _cmd_promote(args: argparse.Namespace) -> int:
    from delivery.promotion import Delivery

    delivery = Delivery(args.environments, output_root=args.output)
    from delivery.promotion import PromotionRefused

    try:
        if args.source is None:
            record = delivery.promote_from_pipeline(
                args.target, expect_version=args.expect_version, summary_file=args.summary
            )
        else:
            if args.summary is not None:
                raise ConfigError(
                    "--summary: only with a promotion from the pipeline (no "
                    "--from); other environments take their source's release"
                )
            record = delivery.promote(
                args.source,
                args.target,
                expect_version=args.expect_version,
                defer_store=args.defer_store,
            )
    except PromotionRefused as exc:
        if args.ok_if_current and exc.rule == "not-already-there":
            print(f"{args.target}: {str(exc).split(': ', 1)[1]}")
            return 0
        raise
    c = record.current
    print(
        f"Promoted {c.model_name} {c.short()} to {args.target} (from {c.promoted_from}).\n"
        f"Changed: {_changed(args, args.target)}; commit them together."
    )
    return 0


def _cmd_rollback(args: argparse.Namespace) -> int:
    from delivery.promotion import Delivery

    record = Delivery(args.environments).rollback(args.env)
    print(
        f"Rolled {args.env} back to {record.current.short()} (released "
        f"{record.current.promoted_at}).\nChanged: {_changed(args, args.env)}; commit them "
        f"together."
    )
    return 0


def _changed(args: argparse.Namespace, env: str) -> str:
    """The files a release changes, as paths in the environments folder actually used."""
    folder = args.environments / env
    return (
        f"{config.show_path(folder / 'release.yaml')} and {config.show_path(folder / 'manifests')}/"
    )


def _cmd_sync(args: argparse.Namespace) -> int:
    from delivery.promotion import Delivery

    record = Delivery(args.environments).sync(args.env)
    if record is None:
        print(f"{args.env} has no release: nothing to sync.")
    else:
        print(
            f"{args.env}'s store serves {record.current.short()} as its release "
            f"({record.current.uri})."
        )
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from delivery import status
    from delivery.promotion import Delivery

    text = status.table(Delivery(args.environments))
    print(text)
    step_summary.append(f"### Releases\n\n```\n{text}\n```")
    return 0


def _cmd_render(args: argparse.Namespace) -> int:
    from delivery import manifests

    envs = [args.env] if args.env else config.available_environments(args.environments)
    drift = manifests.render(args.environments, envs, check=args.check)
    if args.check:
        if drift:
            raise manifests.StaleManifests(
                "committed manifests differ from a fresh render of config, templates and "
                "release records:\n"
                + "\n".join(f"  {d}" for d in drift)
                + "\nRun `mlops render` and commit the result."
            )
        print(f"Manifests up to date for {', '.join(envs)}.")
    else:
        print(
            f"Rendered {', '.join(envs)}"
            + (f"; changed: {', '.join(d.path for d in drift)}" if drift else "; nothing changed")
        )
    return 0


def _cmd_ct(args: argparse.Namespace) -> int:
    import os
    import time

    from pipeline.continuous import check

    started = time.monotonic()
    cfg = config.load(args.env, args.environments, data_root=args.data, output_root=args.output)
    result = check(cfg, args.environments)
    verdict = "retrain" if result.retrain else "no retrain"
    print(f"{cfg.name}: {verdict} ({time.monotonic() - started:.1f} s)")
    for reason in result.reasons:
        print(f"  - {reason}")
    for note in result.notes:
        print(f"  note: {note}")
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        reasons = "; ".join(result.reasons).replace("\n", " ")
        with open(output, "a") as f:
            f.write(f"retrain={'true' if result.retrain else 'false'}\nreasons={reasons}\n")
    step_summary.append(result.markdown(cfg.name))
    return 0 if result.retrain else NO_RETRAIN


COMMANDS = {
    "run": _cmd_run,
    "compile": _cmd_compile,
    "schema": _cmd_schema,
    "config": _cmd_config,
    "serve": _cmd_serve,
    "predict": _cmd_predict,
    "loadtest": _cmd_loadtest,
    "promote": _cmd_promote,
    "rollback": _cmd_rollback,
    "status": _cmd_status,
    "render": _cmd_render,
    "ct": _cmd_ct,
    "sync": _cmd_sync,
}


def _version_line() -> str:
    from importlib import metadata

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    return (
        f"mlops {version('tfx-gitops-template')} (tfx {version('tfx')}, tensorflow "
        f"{version('tensorflow')})"
    )


def _shown(path: Path) -> str:
    """A path as typed, quoted when it holds characters that would break the one-line message."""
    text = str(path)
    return text if text.isprintable() else repr(text)


def _resolve_root(args: argparse.Namespace) -> None:
    """One repository root for every path: --root, or the folder holding --environments.

    Config paths, build/ and infra/ resolve against the folder that holds environments/, so the
    two options must agree; a root other than this checkout's is stated once on stderr.
    """
    if args.environments is None:
        args.environments = (
            args.root / "environments" if args.root is not None else config.ENVIRONMENTS_DIR
        )
    holder = args.environments.resolve().parent
    if args.root is not None and args.root.resolve() != holder:
        raise ConfigError(
            f"--environments {_shown(args.environments)}: must be the "
            f"environments/ folder of --root {_shown(args.root)} "
            f"({_shown(args.root / 'environments')}): config paths, build/ and "
            f"infra/ resolve against the folder that holds environments/"
        )
    if not args.environments.is_dir():
        raise ConfigError(f"--environments {_shown(args.environments)}: no such folder")
    if holder != config.REPO_ROOT:
        print(
            f"mlops: repository root {_shown(holder)} (holds {_shown(args.environments)}): "
            f"data.root, paths.*, build/ and infra/ resolve there",
            file=sys.stderr,
        )


def _check_environment_args(args: argparse.Namespace) -> None:
    """Every environment a command names (--env, --from, --to) must be one of the folder's."""
    known = config.available_environments(args.environments)
    for flag, dest in (("--env", "env"), ("--from", "source"), ("--to", "target")):
        name = getattr(args, dest, None)
        if name is not None and name not in known:
            raise ConfigError(
                f"{flag}: unknown environment {name!r} (known: "
                f"{', '.join(known) or 'none'}, in {_shown(args.environments)})"
            )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _resolve_root(args)
        _check_environment_args(args)
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
        print(
            f"\nmlops {args.command}: unexpected failure: {type(exc).__name__}: {exc}\n"
            f"(run again with `mlops --debug {args.command} ...` for the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
