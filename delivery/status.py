"""`mlops status`: what runs where, how it did, and what is waiting to move on."""

from __future__ import annotations

import datetime as dt

from core.verdicts import Verdict
from delivery.promotion import Delivery
from store import release as rel


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


def table(delivery: Delivery) -> str:
    envs = delivery.order()
    records = {env: delivery.record(env) for env in envs}
    rows = [("env", "version", "digest", "age", "metric", "load test", "from")]
    for env in envs:
        r = records[env]
        if r is None:
            rows.append((env, "-", "-", "-", "-", "-", "(no release)"))
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
                f"{metric} {value:.4f}" if value is not None else "-",
                c.loadtest.verdict,
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


def pending(
    delivery: Delivery, envs: list[str], records: dict[str, rel.Record | None]
) -> list[str]:
    out = []
    for env in envs:
        src = delivery.cfg(env).deploy.promote_from
        released = records.get(src) if src else None
        if released is None:
            continue
        source, target = released.current, records[env]
        if target is not None and target.current.same_artifact(source):
            continue
        if source.loadtest.verdict == Verdict.PASS:
            out.append(
                f"pending: {source.short()} can be promoted {src} -> {env} "
                f"(`mlops promote --from {src} --to {env}`)"
            )
        else:
            out.append(
                f"pending: {source.short()} waits for a passing load test in {src} "
                f"before it can go to {env} (now {source.loadtest.verdict})"
            )
    return out or ["nothing pending: every environment runs what its source runs"]
