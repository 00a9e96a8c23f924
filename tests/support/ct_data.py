"""Planted spans for the continuous-training tests, made from the bundled sample.

benign: rows resampled (with replacement) from the same data; drifted: values that all stay inside
the schema's domains but move the distribution (fares x1.5, every hour shifted by 6, half of the
companies renamed, most popular first); scaled: one numeric feature x1.5, inside its domain;
tippers: the label's base rate moved, nothing else; flipped: labels inverted (tips moved across
the 20%-of-fare line), which a released model cannot score well on.
"""

from __future__ import annotations

import csv
import random
import statistics
from collections import Counter
from pathlib import Path

from tensorflow_metadata.proto.v0 import schema_pb2

from store import release as rel
from store.model_store import model_digest
from store.rows import load_schema
from tests.support import project

# The taxi sample's spans and all its trips in one file: the planted shifts below are written on
# its columns (fares, hours, companies, tips), so they read it even after `mlops init`.
BUNDLED_SPANS = list(project.TAXI_SPANS)
FULL_DATA = project.combined_csv(project.TAXI_SPANS, "taxi")

Rows = list[dict[str, str]]


def read(path: Path = FULL_DATA) -> Rows:
    with Path(path).open(newline="") as f:
        return list(csv.DictReader(f))


def bundled_span(number: int) -> Rows:
    return read(BUNDLED_SPANS[number - 1])


def write_span(root: Path, number: int, rows: Rows, header: list[str] | None = None) -> Path:
    path = root / f"span-{number}" / "data.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = header or list(rows[0] if rows else read(FULL_DATA)[0])
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def benign(rows: Rows, n: int, seed: int = 0) -> Rows:
    rng = random.Random(seed)
    return [dict(rng.choice(rows)) for _ in range(n)]


def drifted(rows: Rows, n: int, seed: int = 1) -> Rows:
    companies = [c for c, _ in Counter(r["company"] for r in rows if r["company"]).most_common()]
    renamed = set(companies[::2])
    out = []
    for row in benign(rows, n, seed):
        if row["fare"]:
            row["fare"] = f"{float(row['fare']) * 1.5:.2f}"
        row["trip_start_hour"] = str((int(row["trip_start_hour"]) + 6) % 24)
        if row["company"] in renamed:
            row["company"] = f"Renamed {row['company'][:30]}"
        out.append(row)
    return out


def flipped(rows: Rows, n: int, seed: int = 2) -> Rows:
    """Big tippers lose their tips and everyone else tips 50%: the label is inverted."""
    out = []
    for row in benign([r for r in rows if r["fare"] and r["tips"]], n, seed):
        fare = float(row["fare"])
        row["tips"] = "0.0" if float(row["tips"]) > 0.2 * fare else f"{fare * 0.5:.2f}"
        out.append(row)
    return out


def scaled(rows: Rows, feature: str, factor: float = 1.5, seed: int = 4) -> Rows:
    """`feature` scaled by `factor`, every value kept inside the schema's domain.

    Amounts, durations and hours (domain starting at 0) are multiplied; coordinates, area codes,
    days and months are stretched by `factor` around their median, as a multiplication would
    leave their domain. Values are clamped to the domain and rounded for INT features.
    """
    spec = next(f for f in load_schema(project.TAXI_SCHEMA).feature if f.name == feature)
    domain = spec.int_domain if spec.type == schema_pb2.INT else spec.float_domain
    low = domain.min if domain.HasField("min") else float("-inf")
    high = domain.max if domain.HasField("max") else float("inf")
    present = [float(r[feature]) for r in rows if r[feature]]
    origin = 0.0 if low == 0 else statistics.median(present)
    out = []
    for row in benign(rows, len(rows), seed):
        if row[feature]:
            value = min(high, max(low, origin + factor * (float(row[feature]) - origin)))
            row[feature] = str(round(value)) if spec.type == schema_pb2.INT else f"{value:.6g}"
        out.append(row)
    return out


def big_tipper(row: dict[str, str]) -> bool:
    return float(row["tips"]) > 0.2 * float(row["fare"])


def tippers(rows: Rows, rate: float, n: int, seed: int = 5) -> Rows:
    """`rate` of the rows tip more than 20% of the fare; every other column unchanged."""
    rng = random.Random(seed)
    sample = benign([r for r in rows if r["fare"] and r["tips"] and float(r["fare"]) > 0], n, seed)
    small = [r for r in sample if not big_tipper(r)]
    wanted = round(rate * n) - (n - len(small))
    for row in rng.sample(small, max(0, wanted)):
        row["tips"] = f"{float(row['fare']) * 0.3 + 0.01:.2f}"
    return sample


def write_dev_release(
    environments: Path, model: Path, data: Path, version: int = 1, model_name: str = "taxi_tips"
) -> None:
    """dev's record as a promotion from the pipeline writes it: released now, trained on spans
    1-2 under `data`, so `mlops ct check` and `mlops monitor` have a release to judge."""
    current = rel.Release(
        model_name=model_name,
        version=version,
        digest=model_digest(model),
        uri=str(model),
        promoted_from="pipeline",
        promoted_at=rel.now(),
        spans=[1, 2],
        data_root=str(data),
    )
    rel.write(environments, rel.Record(environment="dev", current=current))


# The taxi rule model's probabilities: card payers mostly tip over 20% of the fare, cash payers
# hardly ever have a tip recorded (AUC 0.93 on the bundled spans, 0.07 on `flipped` rows).
CARD, OTHER = 0.8, 0.1


def taxi_rule_model(root: Path) -> Path:
    """A real SavedModel with the served signature that scores taxi rows by their payment type.

    The released model for `mlops ct check` on taxi rows: the project's trained model is whatever
    `mlops init` made it, and reads other columns."""
    import tensorflow as tf

    class Rule(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
        def serve(self, examples: tf.Tensor) -> dict[str, tf.Tensor]:
            spec = {"payment_type": tf.io.FixedLenFeature([], tf.string, default_value="")}
            card = tf.equal(tf.io.parse_example(examples, spec)["payment_type"], "Credit Card")
            outputs = tf.where(card, CARD, OTHER)
            return {"outputs": tf.reshape(outputs, [-1, 1])}

    module = Rule()
    tf.saved_model.save(module, str(root), signatures={"serving_default": module.serve})
    return root
