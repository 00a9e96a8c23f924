"""dev released on planted spans 1-2 and sampling into a request-log store of its own: the
world `mlops monitor` measures in the serving-drift tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support import ct_data as D
from tests.support.repo import update_overlay

FIELDS = [
    "fare",
    "trip_miles",
    "trip_seconds",
    "trip_start_hour",
    "trip_start_day",
    "trip_start_month",
    "pickup_community_area",
    "company",
    "payment_type",
]


def released_dev(
    tmp_path: Path, environments: Path, monitoring: dict[str, Any] | None = None
) -> tuple[Path, Path, Path]:
    """(environments, data, store): release 7 of dev, trained on spans 1-2 under data/, its
    samples to land in store/; `monitoring` adds keys to dev's monitoring section."""
    data = tmp_path / "data"
    for number in (1, 2):
        D.write_span(data, number, D.benign(D.bundled_span(number), 1500, seed=number))
    model = tmp_path / "model"
    (model / "variables").mkdir(parents=True)
    (model / "saved_model.pb").write_bytes(b"planted")
    D.write_dev_release(environments, model, data, version=7)
    store = tmp_path / "request_log"
    request_log = {"store": str(store), "fields": FIELDS, "window_rows": 1000, "min_rows": 200}
    update_overlay(
        environments, "dev", {"monitoring": {"request_log": request_log, **(monitoring or {})}}
    )
    return environments, data, store
