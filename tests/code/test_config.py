"""Environment overlays: good ones load, bad ones fail naming the file, key path and value."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import config, config_schema, registry_setup
from core.errors import ConfigError
from core.metrics import lower_is_better
from core.paths import ENVIRONMENTS_DIR
from mlops import cli
from tests.support.project import MODEL, SLUG


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_committed_environments_load(env: str) -> None:
    cfg = config.load(env)
    assert cfg.name == env
    assert cfg.pipeline_name.endswith(env)
    assert "{SPAN}" in cfg.data.input_pattern
    bounds = cfg.evaluation.lower_bound, cfg.evaluation.upper_bound
    if lower_is_better(cfg.evaluation.metric):  # rmse, under a ceiling (a regression project)
        assert bounds[0] is None and bounds[1] is not None and bounds[1] > 0
    else:
        assert bounds[1] is None and bounds[0] is not None and 0 <= bounds[0] <= 1


def test_dev_runs_locally_and_the_others_on_vertex() -> None:
    assert config.load("dev").orchestration.runner == "local"
    for env in ("staging", "prod"):
        cfg = config.load(env)
        assert cfg.orchestration.runner == "kubeflow_v2"
        assert any(a.startswith("--runner=") for a in cfg.orchestration.beam_args)


# environments/base as committed (the values an overlay leaves alone come from here).
BASE = yaml.safe_load((ENVIRONMENTS_DIR / "base" / "config.yaml").read_text())


def test_overlay_overrides_base_and_keeps_the_rest(environments: Path) -> None:
    _edit(environments / "dev" / "config.yaml", lambda d: d.update(training={"train_steps": 7}))
    cfg = config.load("dev", environments)
    assert cfg.training.train_steps == 7
    # from the base (128 on the taxi sample)
    assert cfg.training.batch_size == BASE["training"]["batch_size"] != 7


def test_output_and_data_relocate_a_run(tmp_path: Path) -> None:
    cfg = config.load("dev", data_root=str(tmp_path / "d"), output_root=str(tmp_path / "o"))
    assert cfg.data.root == str(tmp_path / "d")
    assert cfg.paths.metadata == str(tmp_path / "o" / "metadata.sqlite")
    assert cfg.model_store_dir == str(tmp_path / "o" / "model_store" / MODEL)


def _new_environment(environments: Path, text: str) -> Path:
    """environments/qa/ with an overlay that sets little, as a person starts a new one."""
    (environments / "qa").mkdir()
    (environments / "qa" / "config.yaml").write_text(text)
    return environments / "qa" / "config.yaml"


QA = "pipeline_name: taxi-tips-qa\ndeploy:\n  promote_from: staging\n"


def test_a_new_local_environment_gets_its_paths_under_build(
    environments: Path, capsys: pytest.CaptureFixture
) -> None:
    _new_environment(environments, QA)
    cfg = config.load("qa", environments)
    build = environments.parent / "build" / "qa"
    assert cfg.paths.pipeline_root == str(build / "pipeline")
    assert cfg.paths.metadata == str(build / "metadata.sqlite")
    assert cfg.model_store_dir == str(build / "model_store" / MODEL)
    for args in (["config", "--env", "qa"], ["status"]):
        assert cli.main(["--environments", str(environments), *args]) == 0, args
    out, err = capsys.readouterr()
    assert f"pipeline_root: {build / 'pipeline'}" in out
    assert "qa: ok" in err and "Traceback" not in err
    assert [line.split()[0] for line in out.splitlines() if line.startswith("qa ")] == ["qa"]


def test_what_an_environment_sets_is_not_replaced_by_the_default(environments: Path) -> None:
    _new_environment(environments, QA + "paths:\n  pipeline_root: elsewhere/qa\n")
    cfg = config.load("qa", environments)
    assert cfg.paths.pipeline_root == str(environments.parent / "elsewhere" / "qa")
    assert cfg.paths.metadata == str(environments.parent / "build" / "qa" / "metadata.sqlite")


@pytest.mark.parametrize("key", ["pipeline_root", "model_store"])
def test_a_new_cloud_environment_is_told_which_path_to_set(environments: Path, key: str) -> None:
    """kubeflow_v2 runs write to buckets: no default fits, so the error names the key."""
    paths = {"pipeline_root": "gs://b/qa/pipeline", "model_store": "gs://b/qa/models"}
    del paths[key]
    overlay = _new_environment(
        environments,
        "extends: cloud\n" + QA + yaml.safe_dump({"paths": paths}),
    )
    (environments / "cloud.yaml").write_text(
        "\n".join(
            line
            for line in (environments / "cloud.yaml").read_text().splitlines()
            if "model_store:" not in line
        )
    )
    with pytest.raises(ConfigError) as err:
        config.load("qa", environments)
    assert str(err.value).startswith(
        f"{config.show_path(overlay)}: paths.{key}: required value is missing: "
        f"the kubeflow_v2 runner needs "
    )


# --- bad overlays, generated ---------------------------------------------------------------

# (key path, a value of the wrong type or out of range, what the message must mention)
BAD_VALUES = [
    ("training.train_steps", st.integers(max_value=0), "must be >= 1"),
    ("training.eval_steps", st.integers(max_value=0), "must be >= 1"),
    ("training.batch_size", st.text(max_size=5), "expected an integer"),
    (
        "training.learning_rate",
        st.floats(max_value=0.0, allow_nan=False, allow_infinity=False),
        "must be > 0",
    ),
    (
        "training.learning_rate",
        st.sampled_from([float("inf"), float("-inf"), float("nan")]),
        "expected a finite number",
    ),
    ("training.seed", st.booleans(), "expected an integer"),
    ("evaluation.lower_bound", st.floats(min_value=1.0001, max_value=1e9), "must be <= 1"),
    ("evaluation.lower_bound", st.floats(max_value=-0.0001, min_value=-1e9), "must be >= 0"),
    ("evaluation.max_regression", st.floats(min_value=1.0001, max_value=1e9), "must be <= 1"),
    (
        "evaluation.metric",
        st.text(min_size=1, max_size=8).filter(
            lambda s: s not in ("auc", "binary_accuracy", "precision", "recall")
        ),
        "expected one of",
    ),
    ("orchestration.runner", st.sampled_from(["airflow", "LOCAL", "kubeflow"]), "expected one of"),
    ("orchestration.beam_args", st.integers(), "expected a list"),
    ("paths.model_store", st.lists(st.integers(), max_size=2), "expected a string"),
    ("data.input_pattern", st.sampled_from(["*.csv", "span-1/*.csv"]), "{SPAN}"),
    ("model_name", st.sampled_from(["taxi tips", "taxi/tips", ""]), "expected a string matching"),
    ("training", st.integers(), "expected a mapping"),
    ("training.hidden_units", st.lists(st.text(max_size=3), min_size=1), "expected an integer"),
    ("serving.batching.enabled", st.sampled_from(["yes", 1, 0.0]), "expected true or false"),
    ("deploy.namespace", st.sampled_from(["Taxi", "a_b", "-x"]), "expected a string matching"),
]


def _edit(path: Path, change, start_from: Path | None = None) -> None:
    """Apply `change` to the YAML at `path` (read from `start_from`, default `path`)."""
    data = yaml.safe_load((start_from or path).read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))


def _committed(env: str) -> Path:
    return ENVIRONMENTS_DIR / env / "config.yaml"


def _classification_gate(data: dict) -> None:
    """The taxi sample's gate in an overlay: AUC over a floor, and a decay floor. The cases below
    start from it, whatever gate `mlops init` gave the project (a regression's is a ceiling)."""
    _set(data, "evaluation.metric", "auc")
    _set(data, "evaluation.lower_bound", 0.8)
    _set(data, "evaluation.upper_bound", None)
    _set(data, "continuous_training.decay_floor", 0.78)
    _set(data, "continuous_training.decay_ceiling", None)


def _bad_value(key_path: str, value: object):
    def change(d: dict) -> None:
        _classification_gate(d)
        _set(d, key_path, value)

    return change


def _set(data: dict, key_path: str, value: object) -> None:
    *parents, leaf = key_path.split(".")
    for key in parents:
        node = data.get(key)
        if not isinstance(node, dict):
            node = data[key] = {}
        data = node
    data[leaf] = value


@st.composite
def bad_overlay(draw: st.DrawFn) -> tuple[str, object, str]:
    key_path, values, expected = draw(st.sampled_from(BAD_VALUES))
    return key_path, draw(values), expected


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=bad_overlay())
def test_bad_values_name_file_key_and_value(
    environments: Path, case: tuple[str, object, str]
) -> None:
    key_path, value, expected = case
    _edit(
        environments / "dev" / "config.yaml",
        _bad_value(key_path, value),
        start_from=_committed("dev"),
    )
    with pytest.raises(ConfigError) as err:
        config.load("dev", environments)
    message = str(err.value)
    assert "environments/dev/config.yaml" in message
    assert key_path in message
    assert expected in message


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    section=st.sampled_from(["", "training.", "evaluation.", "paths.", "orchestration."]),
    key=st.from_regex(r"[a-z][a-z_]{2,12}", fullmatch=True),
)
def test_unknown_keys_are_rejected(environments: Path, section: str, key: str) -> None:
    known = {
        "extends",
        "model_name",
        "pipeline_name",
        "data",
        "paths",
        "training",
        "evaluation",
        "orchestration",
        "train_steps",
        "eval_steps",
        "batch_size",
        "learning_rate",
        "seed",
        "early_stopping_patience",
        "hidden_units",
        "metric",
        "lower_bound",
        "max_regression",
        "slices",
        "pipeline_root",
        "model_store",
        "metadata",
        "runner",
        "beam_args",
        "image",
        "compiled_pipeline",
    }
    if key in known:
        return
    _edit(
        environments / "dev" / "config.yaml",
        lambda d: _set(d, section + key, 1),
        start_from=_committed("dev"),
    )
    with pytest.raises(
        ConfigError,
        match=rf"environments/dev/config.yaml: {section}{key}: "
        r"unknown key \(allowed here: ",
    ):
        config.load("dev", environments)


def test_missing_required_value_names_the_overlay(environments: Path) -> None:
    _edit(environments / "base" / "config.yaml", lambda d: d["training"].pop("seed"))
    with pytest.raises(
        ConfigError,
        match=r"environments/dev/config.yaml: training.seed: "
        r"required value is missing",
    ):
        config.load("dev", environments)


def test_value_from_the_base_is_blamed_on_the_base(environments: Path) -> None:
    _edit(environments / "base" / "config.yaml", lambda d: _set(d, "training.batch_size", -1))
    with pytest.raises(ConfigError, match=r"environments/base/config.yaml: training.batch_size"):
        config.load("dev", environments)


def test_invalid_yaml_names_the_line(environments: Path) -> None:
    (environments / "dev" / "config.yaml").write_text("pipeline_name: [unclosed\n")
    with pytest.raises(ConfigError, match=r"environments/dev/config.yaml: line \d+"):
        config.load("dev", environments)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=bad_overlay())
def test_cli_reports_bad_config_without_traceback(
    environments: Path, capsys: pytest.CaptureFixture, case: tuple[str, object, str]
) -> None:
    key_path, value, _ = case
    _edit(
        environments / "dev" / "config.yaml",
        _bad_value(key_path, value),
        start_from=_committed("dev"),
    )
    assert cli.main(["--environments", str(environments), "config"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"environments/dev/config.yaml: {key_path}" in err


def test_cli_unknown_environment(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["run", "--env", "qa"]) == 2
    err = capsys.readouterr().err
    assert "unknown environment 'qa'" in err and "dev, prod, staging" in err


def test_a_key_given_twice_is_refused_not_silently_overridden(environments) -> None:
    path = environments / "dev" / "config.yaml"
    path.write_text(path.read_text() + "loadtest:\n  users: 3\n")
    with pytest.raises(
        ConfigError,
        match=r"environments/dev/config.yaml: line \d+, column \d+ "
        r"is not valid YAML: key 'loadtest' appears twice",
    ):
        config.load("dev", environments)


def test_several_problems_show_the_first_and_count_the_rest(environments: Path) -> None:
    """A misspelt key comes first: it is usually why another key looks missing or wrong."""
    _edit(
        environments / "dev" / "config.yaml",
        lambda d: d.update(training={"batch_size": "big", "trian_steps": 5}),
    )
    with pytest.raises(ConfigError) as err:
        config.load("dev", environments)
    assert str(err.value) == config.show_path(environments / "dev" / "config.yaml") + (
        ": training.trian_steps: unknown key (allowed here: "
        "batch_size, early_stopping_patience, eval_steps, hidden_units, learning_rate, seed, "
        "train_steps) (and 1 more problem after this one)"
    )


def test_names_the_loader_sets_are_not_keys_of_the_files(environments: Path) -> None:
    _edit(environments / "dev" / "config.yaml", lambda d: d.update(name="qa"))
    with pytest.raises(ConfigError, match=r"environments/dev/config.yaml: name: unknown key"):
        config.load("dev", environments)


# --- the JSON Schema editors validate against ------------------------------------------------

SCHEMA_LINE = "# yaml-language-server: $schema="


def _environment_files() -> list[Path]:
    root = config.ENVIRONMENTS_DIR
    return sorted([*root.glob("*/config.yaml"), *root.glob("*.yaml")])


def test_the_committed_schema_is_what_the_models_generate() -> None:
    assert config_schema.SCHEMA_FILE.read_text() == config_schema.render(), (
        "environments/config.schema.json is stale: run `make config-schema` and commit it"
    )


def test_every_environment_file_points_editors_at_the_schema() -> None:
    files = _environment_files()
    assert {p.relative_to(config.ENVIRONMENTS_DIR).as_posix() for p in files} >= {
        "base/config.yaml",
        "dev/config.yaml",
        "staging/config.yaml",
        "prod/config.yaml",
        "cloud.yaml",
    }
    for path in files:
        first = path.read_text().splitlines()[0]
        assert first.startswith(SCHEMA_LINE), f"{path}: first line must be {SCHEMA_LINE}..."
        target = (path.parent / first.removeprefix(SCHEMA_LINE)).resolve()
        assert target == config_schema.SCHEMA_FILE, f"{path}: {first} names {target}"


def test_every_environment_file_is_valid_against_the_schema() -> None:
    validator = _schema_validator()
    for path in _environment_files():
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
        assert not errors, f"{path}: {errors}"


@pytest.mark.parametrize(
    "content",
    [
        {"training": {"train_steps": 0}},
        {"training": {"learning_rate": "fast"}},
        {"evaluation": {"metric": "f1"}},
        {"serving": {"rest_port": 70000}},
        {"deploy": {"namespace": "Taxi_Tips"}},
        {"model_name": "taxi tips"},
        {"trainig": {"seed": 1}},
        {"paths": {"model_stor": "x"}},
        {"extends": "../cloud"},
    ],
)
def test_the_schema_flags_what_the_loader_refuses(content: dict) -> None:
    assert list(_schema_validator().iter_errors(content)), content


def test_schema_check_says_when_the_committed_copy_is_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    stale = tmp_path / "config.schema.json"
    stale.write_text("{}\n")
    monkeypatch.setattr(config_schema, "SCHEMA_FILE", stale)
    assert config_schema.main(["--check"]) == 1
    assert "stale: run `make config-schema`" in capsys.readouterr().err
    assert config_schema.main([]) == 0
    assert config_schema.main(["--check"]) == 0
    assert stale.read_text() == config_schema.render()


def _schema_validator():
    import json

    import jsonschema

    body = json.loads(config_schema.SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(body)
    return jsonschema.Draft202012Validator(body)


# --- shared layers: base -> layers named by `extends` -> overlay -------------------------------


def test_staging_and_prod_share_the_cloud_layer() -> None:
    assert "cloud" not in config.available_environments()  # a layer is not an environment
    for env in ("staging", "prod"):
        cfg = config.load(env)
        assert cfg.sources == (
            "environments/base/config.yaml",
            "environments/cloud.yaml",
            f"environments/{env}/config.yaml",
        )
        assert cfg.data.window_spans == 1 and cfg.training.train_steps == 3000
        assert config.source_of(cfg, "orchestration.runner") == "environments/cloud.yaml"
        assert config.source_of(cfg, "pipeline_name") == f"environments/{env}/config.yaml"
        assert config.source_of(cfg, "model_name") == "environments/base/config.yaml"
    assert config.load("dev").sources == (
        "environments/base/config.yaml",
        "environments/dev/config.yaml",
    )


def test_layers_apply_between_the_base_and_the_overlay(environments: Path) -> None:
    for name, steps in (("base/config.yaml", 1), ("cloud.yaml", 2), ("staging/config.yaml", 3)):
        _edit(environments / name, lambda d, s=steps: _set(d, "training.train_steps", s))
    assert config.load("staging", environments).training.train_steps == 3
    _edit(environments / "staging" / "config.yaml", lambda d: d.pop("training"))
    assert config.load("staging", environments).training.train_steps == 2
    assert config.load("dev", environments).training.train_steps == 1  # dev names no layer


def test_layers_stack_in_the_order_named(environments: Path) -> None:
    (environments / "gpu.yaml").write_text("extends: cloud\ntraining:\n  batch_size: 512\n")
    (environments / "big.yaml").write_text("training:\n  batch_size: 1024\n  seed: 7\n")
    _edit(environments / "prod" / "config.yaml", lambda d: d.update(extends=["gpu", "big"]))
    cfg = config.load("prod", environments)
    assert cfg.sources[:4] == tuple(
        config.show_path(environments / name)
        for name in ("base/config.yaml", "cloud.yaml", "gpu.yaml", "big.yaml")
    )
    assert (cfg.training.batch_size, cfg.training.seed) == (1024, 7)
    assert cfg.orchestration.runner == "kubeflow_v2"  # from cloud, under gpu


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        (
            {"training": {"train_steps": 0}},
            "environments/cloud.yaml: training.train_steps: must be >= 1, got 0",
        ),
        (
            {"training": {"trian_steps": 5}},
            "environments/cloud.yaml: training.trian_steps: unknown key (allowed here: ",
        ),
        (
            {"data": {"window_spans": 3}},
            "environments/cloud.yaml: data.window_spans: must be 1 with orchestration.runner "
            "kubeflow_v2",
        ),
        (
            {"serving": {"grpc_port": 8501}},
            "environments/cloud.yaml: serving.grpc_port: must differ from serving.rest_port",
        ),
    ],
)
def test_a_bad_value_in_a_layer_is_blamed_on_the_layer(
    environments: Path, layer: dict, message: str
) -> None:
    _edit(environments / "cloud.yaml", lambda d: _deep_update(d, layer))
    for env in ("staging", "prod"):
        with pytest.raises(ConfigError) as err:
            config.load(env, environments)
        assert message in str(err.value)


def test_a_value_missing_everywhere_names_the_overlay_and_its_layers(environments: Path) -> None:
    _edit(environments / "base" / "config.yaml", lambda d: d["training"].pop("seed"))
    with pytest.raises(ConfigError) as err:
        config.load("staging", environments)
    assert str(err.value) == (
        f"{config.show_path(environments / 'staging' / 'config.yaml')}: training.seed: required "
        f"value is missing (set it here, {config.show_path(environments / 'cloud.yaml')} or in "
        f"the base config)"
    )


def test_a_release_path_set_in_a_layer_counts(environments: Path) -> None:
    """promotion_order reads deploy.promote_from through the layers, as load does."""
    (environments / "after-dev.yaml").write_text("deploy:\n  promote_from: dev\n")
    _edit(
        environments / "staging" / "config.yaml",
        lambda d: (d["deploy"].pop("promote_from"), d.update(extends=["cloud", "after-dev"])),
    )
    assert config.promotion_order(environments) == ["dev", "staging", "prod"]
    assert config.load("staging", environments).deploy.promote_from == "dev"


def test_the_file_that_set_an_unusable_store_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """GHCR under the placeholder namespace: say which file set it and how to get a registry."""
    monkeypatch.setattr(config, "_origin_repository", lambda: "")
    cfg = config.load("prod")
    assert cfg.model_store_dir == f"oci://ghcr.io/local/{SLUG}/models/{MODEL}"
    with pytest.raises(ConfigError) as err:
        registry_setup.require_usable(cfg)
    assert str(err.value) == (
        "environments/cloud.yaml: paths.model_store: prod's model store "
        f"oci://ghcr.io/local/{SLUG}/models is GHCR under a placeholder namespace "
        "(GITHUB_REPOSITORY is unset and origin is not a GitHub remote): start a registry with "
        "`make registry` and `export MODEL_REGISTRY=127.0.0.1:5001`, or "
        "`export GITHUB_REPOSITORY=owner/repo` to use GHCR"
    )


@pytest.mark.parametrize(
    ("variables", "store"),
    [
        ({"MODEL_REGISTRY": "127.0.0.1:5001"}, f"oci://127.0.0.1:5001/local/{SLUG}/models"),
        ({"GITHUB_REPOSITORY": "Acme/Taxi"}, "oci://ghcr.io/Acme/Taxi/models"),
    ],
)
def test_one_variable_makes_the_registry_store_usable(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], store: str
) -> None:
    monkeypatch.setattr(config, "_origin_repository", lambda: "")
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    for env in ("staging", "prod"):
        cfg = config.load(env)
        assert cfg.paths.model_store == store
        registry_setup.require_usable(cfg)  # no error


def test_a_variable_without_a_default_is_named_where_the_store_is_used(
    environments: Path,
) -> None:
    _edit(
        environments / "dev" / "config.yaml",
        lambda d: _set(d, "paths.model_store", "oci://${NO_SUCH_REGISTRY}/models"),
    )
    with pytest.raises(ConfigError, match=r"paths.model_store .* needs NO_SUCH_REGISTRY set"):
        _ = config.load("dev", environments).model_store_dir


@pytest.mark.parametrize(
    ("extends", "message"),
    [
        (
            "clod",
            "environments/staging/config.yaml: extends: no layer 'clod': ",
        ),
        (
            "base",
            "environments/staging/config.yaml: extends: 'base' is always the bottom layer",
        ),
        (
            "../prod/config",
            "environments/staging/config.yaml: extends: expected a layer name matching",
        ),
        (
            {"name": "cloud"},
            "environments/staging/config.yaml: extends: expected a layer name or a list of "
            "layer names, got dict",
        ),
    ],
)
def test_a_bad_extends_says_what_layers_there_are(
    environments: Path, extends: object, message: str
) -> None:
    _edit(environments / "staging" / "config.yaml", lambda d: d.update(extends=extends))
    with pytest.raises(ConfigError) as err:
        config.load("staging", environments)
    assert message in str(err.value)
    if extends == "clod":
        clod = config.show_path(environments / "clod.yaml")
        assert str(err.value).endswith(f"{clod} does not exist (layers found: cloud)")


def test_layers_that_extend_each_other_in_a_loop_are_refused(environments: Path) -> None:
    (environments / "gpu.yaml").write_text("extends: cloud\n")
    _edit(environments / "cloud.yaml", lambda d: d.update(extends="gpu"))
    with pytest.raises(
        ConfigError,
        match=r"environments/gpu.yaml: extends: layers extend each other in a loop "
        r"\(cloud -> gpu -> cloud\)",
    ):
        config.load("prod", environments)


def test_the_base_extends_nothing(environments: Path) -> None:
    _edit(environments / "base" / "config.yaml", lambda d: d.update(extends="cloud"))
    with pytest.raises(
        ConfigError, match=r"environments/base/config.yaml: extends: the base is the bottom"
    ):
        config.load("dev", environments)


def _deep_update(into: dict, new: dict) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _deep_update(into[key], value)
        else:
            into[key] = value


@pytest.mark.parametrize(
    ("metric", "bounds", "key_path", "expected"),
    [
        ("rmse", {"lower_bound": 0.6}, "evaluation.upper_bound", "required for rmse"),
        (
            "rmse",
            {"lower_bound": 0.6, "upper_bound": 3.0},
            "evaluation.lower_bound",
            "not for rmse",
        ),
        (
            "accuracy",
            {"lower_bound": None, "upper_bound": 0.4},
            "evaluation.lower_bound",
            "required",
        ),
        ("auc", {"upper_bound": 0.4}, "evaluation.upper_bound", "not for auc"),
    ],
)
def test_the_bound_must_match_the_metrics_direction(
    environments: Path, metric: str, bounds: dict[str, object], key_path: str, expected: str
) -> None:
    """RMSE is held under a ceiling, classification metrics over a floor: the other is refused."""

    def change(d: dict) -> None:
        _classification_gate(d)
        _set(d, "evaluation.metric", metric)
        for key, value in bounds.items():
            _set(d, f"evaluation.{key}", value)

    _edit(environments / "dev" / "config.yaml", change, start_from=_committed("dev"))
    with pytest.raises(ConfigError) as err:
        config.load("dev", environments)
    assert key_path in str(err.value) and expected in str(err.value)


def test_an_rmse_gate_loads_with_its_ceiling(environments: Path) -> None:
    def change(d: dict) -> None:
        _set(d, "evaluation.metric", "rmse")
        _set(d, "evaluation.lower_bound", None)
        _set(d, "evaluation.upper_bound", 34.9)
        _set(d, "evaluation.max_regression", 2.5)
        _set(d, "continuous_training.decay_floor", None)
        _set(d, "continuous_training.decay_ceiling", 36.0)

    _edit(environments / "dev" / "config.yaml", change, start_from=_committed("dev"))
    cfg = config.load("dev", environments)
    assert cfg.evaluation.bound == 34.9 and cfg.evaluation.max_regression == 2.5
    assert cfg.continuous_training.decay_bound("rmse") == 36.0


@pytest.mark.parametrize(
    ("metric", "decay", "key_path", "expected"),
    [
        ("rmse", {}, "continuous_training.decay_ceiling", "required for rmse"),
        (
            "rmse",
            {"decay_ceiling": 36.0},
            "continuous_training.decay_floor",
            "not for rmse, where lower is better: set continuous_training.decay_ceiling",
        ),
        (
            "auc",
            {"decay_ceiling": 0.9},
            "continuous_training.decay_ceiling",
            "not for auc, where higher is better: set continuous_training.decay_floor",
        ),
        ("auc", {"decay_floor": None}, "continuous_training.decay_floor", "required for auc"),
        ("auc", {"decay_floor": 1.5}, "continuous_training.decay_floor", "between 0 and 1"),
    ],
)
def test_the_decay_bound_must_match_the_metrics_direction(
    environments: Path, metric: str, decay: dict[str, object], key_path: str, expected: str
) -> None:
    """ct's decay bound is a floor for auc and a ceiling for rmse; a mismatch names its key."""

    def change(d: dict) -> None:
        _classification_gate(d)
        _set(d, "evaluation.metric", metric)
        if metric == "rmse":
            _set(d, "evaluation.lower_bound", None)
            _set(d, "evaluation.upper_bound", 34.9)
        for key, value in decay.items():
            _set(d, f"continuous_training.{key}", value)

    _edit(environments / "dev" / "config.yaml", change, start_from=_committed("dev"))
    with pytest.raises(ConfigError) as err:
        config.load("dev", environments)
    assert key_path in str(err.value) and expected in str(err.value)


def _sample_into(environments: Path, store: str) -> None:
    _edit(
        environments / "dev" / "config.yaml",
        lambda d: _set(d, "monitoring.request_log", {"store": store, "fields": ["fare"]}),
    )


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("s3://bucket/request-log", "no other scheme is supported"),
        ("https://example.com/request-log", "no other scheme is supported"),
        ("oci://127.0.0.1:5001", "expected oci://REGISTRY/REPOSITORY"),
        ("oci://127.0.0.1:5001/acme/request-log:latest", "no tag or digest"),
        ("oci://ghcr.io/acme/request-log@sha256:" + "0" * 64, "no tag or digest"),
        ("gs://", "expected gs://BUCKET/PATH"),
        ("ram://request-log", "no other scheme is supported"),
    ],
)
def test_a_request_log_store_that_is_no_folder_registry_or_bucket_is_refused(
    environments: Path, value: str, why: str
) -> None:
    _sample_into(environments, value)
    with pytest.raises(ConfigError) as err:
        config.load("dev", environments)
    message = str(err.value)
    assert "dev/config.yaml: monitoring.request_log.store: " in message, message
    assert why in message and message.endswith(f"got {value!r}"), message


@pytest.mark.parametrize(
    ("value", "loaded"),
    [
        (
            "oci://127.0.0.1:5001/acme/taxi/request-log",
            "oci://127.0.0.1:5001/acme/taxi/request-log",
        ),
        (
            "oci://ghcr.io/${NO_SUCH_VARIABLE:-acme/taxi}/request-log",
            "oci://ghcr.io/acme/taxi/request-log",
        ),
        ("gs://acme-logs/taxi/dev", "gs://acme-logs/taxi/dev"),
    ],
)
def test_a_remote_request_log_store_loads_with_its_variables_expanded(
    environments: Path, value: str, loaded: str
) -> None:
    _sample_into(environments, value)
    assert config.load("dev", environments).monitoring.request_log.store == loaded
