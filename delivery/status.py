"""`mlops status`: what runs where, how it did, and what is waiting to move on."""

from __future__ import annotations

import datetime as dt

from core import metrics, registry_setup
from core.verdicts import Verdict
from delivery import rules
from delivery.promotion import Delivery
from store import release as rel
from store.oci import answers


def _age(stamp: str) -> str:
    try:
        then = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return "?"
    seconds = (dt.datetime.now(dt.timezone.utc) - then).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def figure(metric: str, value: float | None) -> str:
    """`auc 0.9123`; an error such as rmse says that lower is better, so 3.1 reads right."""
    if value is None:
        return "-"
    return f"{metric} {value:.4f}" + (
        " (lower is better)" if metrics.lower_is_better(metric) else ""
    )


def analysis(strategy: str, release: rel.Release) -> str:
    """The analysis column: `-` without shadow or canary; a verdict of another release is
    shown as such, since the analysis-passed rule does not count it."""
    if strategy == "none":
        return "-"
    verdict = release.analysis.verdict
    if verdict != Verdict.NONE and not release.analysis.judged(release):
        return f"{verdict} (of another release)"
    return f"{verdict}"


def table(delivery: Delivery) -> str:
    envs = delivery.order()
    records = {env: delivery.record(env) for env in envs}
    rows = [("env", "version", "digest", "age", "metric", "load test", "analysis", "from")]
    for env in envs:
        r = records[env]
        if r is None:
            rows.append((env, "-", "-", "-", "-", "-", "-", "(no release)"))
            continue
        c = r.current
        metric = delivery.cfg(env).evaluation.metric
        value = c.metrics.get(metric)
        rows.append(
            (
                env,
                str(c.version),
                c.digest[7:19],
                _age(c.promoted_at),
                figure(metric, value),
                c.loadtest.verdict,
                analysis(delivery.cfg(env).rollout.strategy, c),
                c.promoted_from,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.append("")
    lines += pending(delivery, envs, records)
    return "\n".join(lines)


def store_hint(delivery: Delivery, env: str) -> str | None:
    """What this machine lacks before a command can use `env`'s model store; None when it may.

    Only registry stores can lack anything: the placeholder namespace on GHCR, or a registry
    that does not answer (the local one not started, or no network).
    """
    cfg = delivery.cfg(env)
    problem = registry_setup.placeholder_problem(cfg)
    if problem is not None:
        return f"{problem}; {registry_setup.start_local()}"
    host = registry_setup.registry_host(cfg)
    if not host or answers(host):
        return None
    fix = (
        "start it with `make registry`"
        if host.startswith(("127.", "localhost"))
        else f"check the network, or {registry_setup.start_local()}"
    )
    return f"{env}'s registry {host} (paths.model_store) does not answer; {fix}"


def pending(
    delivery: Delivery, envs: list[str], records: dict[str, rel.Record | None]
) -> list[str]:
    """One line per promotion waiting, with the command that moves it on, if it can work here."""
    out = []
    hints: dict[str, str | None] = {}

    def hint(env: str) -> str | None:
        if env not in hints:
            hints[env] = store_hint(delivery, env)
        return hints[env]

    for env in envs:
        src = delivery.cfg(env).deploy.promote_from
        released = records.get(src) if src else None
        if released is None:
            continue
        source, target = released.current, records[env]
        if target is not None and target.current.same_artifact(source):
            continue
        promote = f"`mlops promote --from {src} --to {env}`"
        strategy = delivery.cfg(src).rollout.strategy
        try:
            rules.analysis_passed(src, strategy, source)
            unjudged = ""
        except rules.PromotionRefused as exc:
            unjudged = exc.reason
        if source.loadtest.verdict == Verdict.PASS and unjudged:
            out.append(
                f"pending: {source.short()} waits for a passing {strategy} analysis in {src} "
                f"before it can go to {env}: {unjudged}"
            )
        elif source.loadtest.verdict == Verdict.PASS:
            missing = hint(env)
            out.append(
                f"pending: {source.short()} can be promoted {src} -> {env} ({promote})"
                if missing is None
                else f"pending: {source.short()} can be promoted {src} -> {env}, but not from "
                f"here yet:\n  {missing}, then {promote}"
            )
        else:
            missing = hint(src)
            record = f"`make serve-loadtest-record ENV={src}` records one"
            out.append(
                f"pending: {source.short()} waits for a passing load test in {src} "
                f"before it can go to {env} (now {source.loadtest.verdict}); "
                + (record if missing is None else f"to record one here:\n  {missing}")
            )
    return out or ["nothing pending: every environment runs what its source runs"]
