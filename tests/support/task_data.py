"""Datasets unlike the taxi sample, for `mlops init` end to end: other columns, types, missing
values, sizes and tasks, each with a signal a small model learns in a few epochs.

- specimens: multiclass (three species as strings), 360 rows, a date column, missing measures,
  an id column init must leave unused;
- rentals: regression (monthly rent), 2,400 rows, an ISO timestamp, a district vocabulary, an
  integer code, missing floors;
- churn: binary with the label given as "yes"/"no", 600 rows.

`python -m tests.support.task_data TASK OUT.csv` writes TASK's dataset (for `make init-check`).
"""

from __future__ import annotations

import argparse
import csv
import math
import random
from collections.abc import Callable, Sequence
from pathlib import Path


def _write(path: Path, header: list[str], rows: Sequence[Sequence[object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(header)
        out.writerows(["" if v is None else v for v in row] for row in rows)
    return path


def specimens(path: Path, rows: int = 360, seed: int = 7) -> Path:
    r = random.Random(seed)
    species = {"adelie": (38.0, 190), "gentoo": (47.0, 217), "chinstrap": (48.5, 196)}
    islands = {
        "adelie": ["biscoe", "dream", "torgersen"],
        "gentoo": ["biscoe"],
        "chinstrap": ["dream"],
    }
    out = []
    for i in range(rows):
        name = r.choices(list(species), weights=[5, 3, 2])[0]
        bill, flipper = species[name]
        out.append(
            [
                f"S{i:05d}",
                None if r.random() < 0.06 else round(r.gauss(bill, 2.2), 1),
                int(r.gauss(flipper, 6)),
                r.choice(islands[name]) if r.random() > 0.04 else None,
                r.choice(["female", "male"]),
                f"2023-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
                name,
            ]
        )
    header = ["specimen_id", "bill_mm", "flipper_mm", "island", "sex", "observed", "species"]
    return _write(path, header, out)


def rentals(path: Path, rows: int = 2400, seed: int = 11) -> Path:
    r = random.Random(seed)
    districts = {f"d{k}": 3.0 * k for k in range(8)}
    out = []
    for _ in range(rows):
        district = r.choice(list(districts))
        area = max(18.0, r.gauss(70, 25))
        rooms = max(1, min(6, int(area // 25) + r.choice([0, 0, 1])))
        day, hour, minute = r.randint(1, 28), r.randint(0, 23), r.randint(0, 59)
        rent = 8.0 + 0.35 * area + districts[district] + 2.0 * rooms + r.gauss(0, 3)
        out.append(
            [
                round(area, 1),
                rooms,
                district,
                None if r.random() < 0.1 else r.randint(0, 12),
                f"2024-{r.randint(1, 12):02d}-{day:02d}T{hour:02d}:{minute:02d}:00",
                round(rent, 2),
            ]
        )
    return _write(path, ["area_m2", "rooms", "district", "floor", "listed_at", "rent"], out)


def churn(path: Path, rows: int = 600, seed: int = 13) -> Path:
    r = random.Random(seed)
    out = []
    for _ in range(rows):
        plan = r.choice(["basic", "plus", "pro"])
        tenure = r.randint(1, 72)
        calls = r.randint(0, 9)
        monthly = round(r.uniform(10, 90), 2)
        score = -2.0 + 0.45 * calls - 0.05 * tenure + (0.8 if plan == "basic" else 0.0)
        churned = r.random() < 1 / (1 + math.exp(-score))
        out.append(
            [
                tenure,
                plan,
                None if r.random() < 0.05 else monthly,
                calls,
                "yes" if churned else "no",
            ]
        )
    return _write(path, ["tenure_months", "plan", "monthly_fee", "support_calls", "churned"], out)


class Task:
    """A task's dataset and the `mlops init` arguments it needs beyond `--data`."""

    def __init__(self, make: Callable[[Path], Path], label: str, extra: tuple[str, ...] = ()):
        self.make, self.label, self.extra = make, label, extra

    def init_args(self, data: Path) -> list[str]:
        return ["init", "--data", str(data), "--label", self.label, *self.extra]


TASKS = {
    "multiclass": Task(specimens, "species"),
    "regression": Task(rentals, "rent"),
    "binary": Task(churn, "churned", ("--positive", "yes")),
}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write a generated dataset for `mlops init`.")
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    TASKS[args.task].make(args.out)
    print(f"{args.out}: {args.task} data, label {TASKS[args.task].label!r}")


if __name__ == "__main__":
    main()
