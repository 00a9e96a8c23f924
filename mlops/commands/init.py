"""`mlops init`: a CSV and a label in, this project's decisions out (issue 19).

It reads and checks the data, prints every decision with its review list, lays the data out as
spans under data/<name>/ and writes the drafted task spec (models/task.yaml), the feature roles,
label rule and task the user code follows (models/features.py), curated schema and drift
thresholds (models/schema/), load-test rows (data/<name>/) and the environments' names and gate in
place, so every change is one `git diff` away.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from mlops.arguments import Subparsers
from scaffold import config_edit, features_module, plan, render, report, spans, task, writer


def add_parser(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "init",
        help="decide the task, column roles, spans, floors, slices and drift thresholds for "
        "a CSV and a label",
        description="Read FILE.csv (or a folder of span-N/ folders), check it, and print what "
        "the project would become: the task, each column's role, the spans, the gated metric's "
        "floor beside the trivial baseline, slices, drift thresholds, and a review list. "
        "Lays the data out as data/<name>/span-N/ and writes the drafts to build/init/<name>/.",
    )
    parser.add_argument(
        "--data",
        type=Path,
        required=True,
        metavar="FILE.csv",
        help="a CSV file with a header, or a folder of span-N/ folders of CSV files",
    )
    parser.add_argument("--label", required=True, metavar="COLUMN", help="the column to predict")
    parser.add_argument(
        "--task",
        default="auto",
        choices=task.TASKS,
        help="auto (default) decides from the label's type and number of values, and says so",
    )
    parser.add_argument("--positive", metavar="VALUE", help="the positive class of a binary label")
    parser.add_argument("--name", help="model, pipeline and registry name (default: the file's)")
    parser.add_argument("--span-by", metavar="COLUMN", help="a date or timestamp column")
    parser.add_argument(
        "--force", action="store_true", help="write even on a working tree with uncommitted changes"
    )
    parser.add_argument(
        "--period",
        default="month",
        choices=spans.PERIODS,
        help="one span per day, month (default) or year of --span-by",
    )


def _schema(decided: plan.Plan, span_files: dict[str, str]) -> str:
    """TFDV reads files: infer from the spans written to a scratch folder, not yet the tree."""
    with tempfile.TemporaryDirectory(prefix="mlops-init-") as scratch:
        paths = []
        for name, text in span_files.items():
            path = Path(scratch, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            paths.append(path)
        # Imported here: TFDV and TFX take seconds to import, and every `mlops` command
        # would pay for them at start-up.
        from scaffold import schema_draft

        return schema_draft.draft(decided, paths)


def run(args: argparse.Namespace) -> int:
    request = plan.Request(
        data=args.data,
        label=args.label,
        task=args.task,
        positive=args.positive,
        name=args.name,
        span_by=args.span_by,
        period=args.period,
    )
    root = args.environments.resolve().parent
    decided = plan.decide(request)
    files = {
        f"data/{decided.name}/{path}": text for path, text in render.span_files(decided).items()
    }
    files["models/task.yaml"] = render.task_spec(decided)
    files["models/features.py"] = features_module.features_py(decided)
    files["models/schema/drift.yaml"] = render.drift_yaml(decided)
    files[f"data/{decided.name}/loadtest_rows.csv"] = render.loadtest_csv(decided)
    files.update(config_edit.environments(root, decided))
    writer.check_clean(root, args.force)
    files["models/schema/schema.pbtxt"] = _schema(decided, render.span_files(decided))
    print(report.describe(decided))
    changed = writer.write(root, files)
    print(
        f"\nName: {decided.name}. Data under data/{decided.name}/; drafts in models/task.yaml, "
        f"models/features.py (the task, label rule and roles the Transform, model head and "
        f"Evaluator follow), models/schema/ and environments/*/config.yaml (`git diff` shows "
        f"them)."
    )
    print(f"Wrote {len(changed)} file(s): {', '.join(changed)}" if changed else "Nothing changed.")
    if not config_edit.gated(decided):
        print(
            f"Not gated yet: evaluation.metric and lower_bound were left as they were; the gates "
            f"take only {', '.join(config_edit.GATED_METRICS)} so far, not "
            f"{decided.baseline.metric} (drafted bound: {decided.baseline.floor})."
        )
    print(
        "Then run `mlops render` for the manifests. Back to the taxi sample: "
        "`git checkout -- models environments && git clean -fd data models`."
    )
    return 0
