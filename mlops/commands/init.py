"""`mlops init`: a CSV and a label in, this project's decisions out (issue 19).

It reads and checks the data, prints every decision with its review list, lays the data out as
spans under data/<name>/ and writes the drafted task spec (models/task.yaml), the feature roles,
label rule and task the user code follows (models/features.py), curated schema and drift
thresholds (models/schema/), load-test rows (data/<name>/) and the environments' names and gate in
place (a floor, or a ceiling for rmse), and re-renders the manifests as `mlops render` would, so
every change is one `git diff` away.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from mlops.arguments import Subparsers
from scaffold import config_edit, features_module, gates, plan, render, report, spans, task, writer


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
    if any(path.startswith("environments/") for path in files):
        print(_gates_line(gates.draft(decided.baseline)))
    print(_rerender(args.environments))
    print(
        "Back to the taxi sample: "
        "`git checkout -- models environments && git clean -fd data models`."
    )
    return 0


def _gates_line(g: gates.Gates) -> str:
    """The gate written per layer, in the metric's direction (`>=` floor, `<=` ceiling)."""
    sign = "<=" if g.bound_key == "upper_bound" else ">="
    return (
        f"Gates: {g.metric} {sign} {g.base_bound} (evaluation.{g.bound_key}; cloud layer "
        f"{g.cloud_bound}), at most {g.max_regression} worse than the released model "
        f"(evaluation.max_regression; prod {g.prod_max_regression}), retrain past "
        f"{g.base_decay} (continuous_training.{g.decay_key}; cloud layer {g.cloud_decay})."
    )


def _rerender(environments: Path) -> str:
    """What `mlops render` does, done here so the manifests follow the renamed config; or
    precisely why not (the error that stopped it), and the command to run after fixing it."""
    from core import config, schema
    from core.errors import MlopsError
    from delivery import manifests

    schema.read_schema.cache_clear()  # init may just have rewritten the curated schema
    envs = config.available_environments(environments)
    if not envs:
        return f"Manifests: no environment under {environments} to render."
    try:
        stale = manifests.render(environments, envs, check=True)
        if stale:  # rendering an up-to-date tree would still touch its files
            manifests.render(environments, envs, check=False)
    except MlopsError as exc:
        return f"Manifests not re-rendered: {exc}. Fix that, then run `mlops render`."
    changed = ", ".join(d.path for d in stale)
    return f"Manifests rendered for {', '.join(envs)}: " + (
        f"changed {changed}." if changed else "up to date."
    )
