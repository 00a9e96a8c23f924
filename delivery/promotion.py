"""Promotion rules: which release may move where, checked before anything is written.

The rules form a small state machine over the environments' release records:
- dev takes the newest model the pipeline pushed (its digest checked);
- every other environment takes exactly the artifact its `deploy.promote_from` environment runs
  (same version, same digest; copied, never rebuilt), and only after that release passed its
  load test there; stages are never skipped;
- the model in the store must still have the digest its record names;
- a promotion to the version already running is refused;
- rollback returns an environment to its previous release, exactly as it was.
Each refusal names the rule and what to do. A refused command changes nothing.
"""

from __future__ import annotations

import copy
import getpass
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from components.model_store import has_saved_model, model_digest, publish_atomically, versions
from delivery import release as rel
from mlops import config
from mlops.config import EnvironmentConfig
from mlops.errors import ConfigError, GateError

PIPELINE = "pipeline"


class PromotionRefused(GateError):
    """A promotion rule failed; nothing was written."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"refused ({rule}): {message}")
        self.rule = rule


def git_commit() -> str:
    if os.environ.get("GITHUB_SHA"):
        return os.environ["GITHUB_SHA"]
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=config.REPO_ROOT,
                             capture_output=True, text=True, timeout=10)
    except OSError:
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def actor() -> str:
    return os.environ.get("GITHUB_ACTOR") or getpass.getuser()


def display_uri(uri: str) -> str:
    """Repository-relative for local paths, so committed records do not name one machine."""
    if "://" in uri:
        return uri
    try:
        return str(Path(uri).resolve().relative_to(config.REPO_ROOT))
    except ValueError:
        return uri


def _resolve(uri: str) -> str:
    return uri if "://" in uri or Path(uri).is_absolute() else str(config.REPO_ROOT / uri)


def _copy_artifact(src: str, dst_store: str, version: int, digest: str) -> str:
    """Copy one version into another store: a hidden sibling, then one rename; verified."""
    target = config.join_uri(dst_store, str(version))
    if has_saved_model(target):
        found = model_digest(target)
        if found != digest:
            raise PromotionRefused("store-conflict", f"{display_uri(target)} already holds a "
                                   f"different model (digest {found}, expected {digest}); "
                                   f"versions are immutable, so remove it or investigate")
        return target
    if "://" in dst_store or "://" in src:
        import tensorflow as tf  # object stores: copy everything, saved_model.pb last

        files = []
        for dirpath, _, names in tf.io.gfile.walk(src):
            files += [f"{dirpath.rstrip('/')}/{n}" for n in names]
        files.sort(key=lambda p: p.endswith("/saved_model.pb"))
        for path in files:
            out = target + path[len(src.rstrip("/")):]
            tf.io.gfile.makedirs(out.rsplit("/", 1)[0])
            tf.io.gfile.copy(path, out, overwrite=True)
    else:
        publish_atomically(src, dst_store, version)
    copied = model_digest(target)
    if copied != digest:
        raise PromotionRefused("digest-matches", f"the copy at {display_uri(target)} has digest "
                               f"{copied}, expected {digest}; the copy is incomplete")
    return target


def _expect(expected: int | None, actual: int, what: str) -> None:
    if expected is not None and expected != actual:
        raise PromotionRefused("expected-version", f"{what} is version {actual}, not the "
                               f"approved version {expected}; re-run the approval with the "
                               f"version `mlops status` shows")


@dataclass
class Delivery:
    """The promotion commands over one environments/ folder."""

    environments_dir: Path = config.ENVIRONMENTS_DIR
    output_root: str | None = None  # `mlops run --output`: where dev's pipeline wrote

    def cfg(self, env: str) -> EnvironmentConfig:
        """The environment's config; `output_root` relocates only the one fed by the pipeline."""
        cfg = config.load(env, self.environments_dir)
        if self.output_root and not cfg.deploy.promote_from:
            cfg = config.load(env, self.environments_dir, output_root=self.output_root)
        return cfg

    def order(self) -> list[str]:
        """Environments from the pipeline's end to production, following deploy.promote_from."""
        names = config.available_environments(self.environments_dir)
        source = {n: config.load(n, self.environments_dir).deploy.promote_from for n in names}
        for name, src in source.items():
            if src and src not in source:
                raise ConfigError(f"environments/{name}/config.yaml: deploy.promote_from: "
                                  f"unknown environment {src!r} (known: {', '.join(names)})")
        ordered: list[str] = []
        frontier = [n for n in names if not source[n]]
        while frontier:
            ordered += frontier
            frontier = sorted(n for n in names if source[n] in frontier)
        return ordered

    def record(self, env: str) -> rel.Record | None:
        return rel.read(self.environments_dir, env)

    # --- the commands ---------------------------------------------------------------------

    def promote_from_pipeline(self, env: str, expect_version: int | None = None) -> rel.Record:
        """The newest model the pipeline pushed for `env` becomes its release."""
        import json

        cfg = self.cfg(env)
        if cfg.deploy.promote_from:
            raise PromotionRefused("stage-order", f"{env} takes releases from "
                                   f"{cfg.deploy.promote_from} (deploy.promote_from); use "
                                   f"`mlops promote --from {cfg.deploy.promote_from} --to {env}`")
        store = cfg.model_store_dir
        pushed = versions(store) if "://" not in store else []
        if not pushed:
            raise PromotionRefused("pipeline-output", f"no pushed model in {display_uri(store)}: "
                                   f"run `mlops run --env {env}` (it pushes only blessed models)")
        version = pushed[-1]
        _expect(expect_version, version, "the newest pushed model")
        uri = config.join_uri(store, str(version))
        digest = model_digest(uri)
        summary_file = Path(cfg.paths.pipeline_root).parent / "run_summary.json"
        summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
        metrics, run, spans, data_root = {}, "", [], ""
        if str(summary.get("pushed_version")) == str(version):
            if summary.get("model_digest") and summary["model_digest"] != digest:
                raise PromotionRefused("digest-matches", f"{display_uri(uri)} has digest "
                                       f"{digest} but the run that pushed it recorded "
                                       f"{summary['model_digest']}: the model changed after "
                                       f"the push; re-run the pipeline")
            metrics = dict((summary.get("overall") or {}).get("metrics") or {})
            run = summary.get("pipeline_run", "")
            spans, data_root = summary.get("spans") or [], summary.get("data_root", "")
        new = rel.Release(model_name=cfg.model_name, version=version, digest=digest,
                          uri=display_uri(uri), git_commit=git_commit(), pipeline_run=run,
                          promoted_from=PIPELINE, promoted_at=rel.now(), promoted_by=actor(),
                          metrics={k: round(float(v), 6) for k, v in metrics.items()},
                          spans=spans, data_root=display_uri(data_root) if data_root else "")
        return self._install(env, new)

    def promote(self, src: str, dst: str, expect_version: int | None = None) -> rel.Record:
        dst_cfg = self.cfg(dst)
        if dst_cfg.deploy.promote_from != src:
            expected = dst_cfg.deploy.promote_from or "the pipeline (`mlops promote --to " \
                                                       f"{dst}`)"
            raise PromotionRefused("stage-order", f"{dst} takes releases only from {expected} "
                                   f"(deploy.promote_from in environments/{dst}/config.yaml); "
                                   f"stages are not skipped")
        source = self.record(src)
        if source is None:
            raise PromotionRefused("source-released", f"{src} has no release yet; promote to "
                                   f"{src} first")
        current = source.current
        _expect(expect_version, current.version, f"{src}'s release")
        if current.loadtest.verdict != "PASS":
            raise PromotionRefused("load-test-passed", f"{src}'s release {current.short()} has "
                                   f"load-test verdict {current.loadtest.verdict}; run `mlops "
                                   f"loadtest --env {src} --record` against it and promote once "
                                   f"it passes")
        self._check_digest(src, current)
        target = self.record(dst)
        if target is not None and target.current.same_artifact(current):
            raise PromotionRefused("not-already-there", f"{dst} already runs "
                                   f"{current.short()}; nothing to promote")
        uri = _copy_artifact(_resolve(current.uri), dst_cfg.model_store_dir, current.version,
                             current.digest)
        new = copy.deepcopy(current)
        new.uri, new.promoted_from = display_uri(uri), src
        new.promoted_at, new.promoted_by = rel.now(), actor()
        new.loadtest = rel.LoadTest()  # it has not been load-tested in `dst` yet
        return self._install(dst, new)

    def rollback(self, env: str) -> rel.Record:
        record = self.record(env)
        if record is None or not record.history:
            raise PromotionRefused("previous-release", f"{env} has no previous release to roll "
                                   f"back to")
        previous = record.history[0]
        self._check_digest(env, previous)
        rolled = rel.Record(env, previous, record.history[1:])
        self._write(env, rolled)
        return rolled

    def record_loadtest(self, env: str, verdict: str, report: str, *, p95_ms: float,
                        p99_ms: float, rps: float, failure_ratio: float) -> rel.Record:
        record = self.record(env)
        if record is None:
            raise PromotionRefused("source-released", f"{env} has no release to attach a load "
                                   f"test to; promote to {env} first")
        record.current.loadtest = rel.LoadTest(verdict, rel.now(), display_uri(report),
                                               round(p95_ms, 3), round(p99_ms, 3),
                                               round(rps, 3), round(failure_ratio, 6))
        self._write(env, record)
        return record

    # --- helpers ----------------------------------------------------------------------------

    def _check_digest(self, env: str, release: rel.Release) -> None:
        uri = _resolve(release.uri)
        if not has_saved_model(uri):
            raise PromotionRefused("digest-matches", f"{env}'s {release.short()} is missing "
                                   f"from the store ({release.uri}); restore it or promote a "
                                   f"new release")
        found = model_digest(uri)
        if found != release.digest:
            raise PromotionRefused("digest-matches", f"the model at {release.uri} has digest "
                                   f"{found}, but {env}'s record says {release.digest}: it "
                                   f"changed after release. Do not promote it; run the "
                                   f"pipeline and promote a fresh release")

    def _install(self, env: str, new: rel.Release) -> rel.Record:
        old = self.record(env)
        if old is not None and old.current.same_artifact(new):
            raise PromotionRefused("not-already-there", f"{env} already runs {new.short()}; "
                                   f"nothing to promote")
        history = [old.current, *old.history] if old else []
        record = rel.Record(env, new, history)
        self._write(env, record)
        return record

    def _write(self, env: str, record: rel.Record) -> None:
        """Record and manifests together: render first (may fail), then replace both."""
        from delivery import manifests

        cfg = config.load(env, self.environments_dir)
        rendered = manifests.render_environment(cfg, record)
        rel.write(self.environments_dir, record)
        manifests.write_environment(self.environments_dir, env, rendered)
