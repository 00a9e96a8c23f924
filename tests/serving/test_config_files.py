"""TF Serving config files rendered from each environment and checked with TF Serving's protos."""

from __future__ import annotations

import pytest
import yaml
from google.protobuf import text_format

from core import config
from core.errors import ConfigError
from serving import config_files as C
from serving.extra_protos import message_class
from tests.support.project import MODEL
from tests.support.repo import update_overlay


def test_dev_renders_a_latest_policy_monitoring_and_batching() -> None:
    cfg = config.load("dev")
    files = C.render(cfg, f"/store/{MODEL}")
    assert set(files) == {C.MODELS_FILE, C.MONITORING_FILE, C.BATCHING_FILE}
    parsed = C.load_model_server_config_text(files[C.MODELS_FILE])
    model = parsed.model_config_list.config[0]
    assert (model.name, model.base_path, model.model_platform) == (
        MODEL,
        f"/store/{MODEL}",
        "tensorflow",
    )
    assert model.model_version_policy.latest.num_versions == cfg.serving.num_versions
    monitoring = text_format.Parse(files[C.MONITORING_FILE], message_class("MonitoringConfig")())
    assert monitoring.prometheus_config.enable
    assert monitoring.prometheus_config.path == cfg.serving.monitoring_path


def test_batching_file_only_when_the_environment_enables_it() -> None:
    staging = config.load("staging")
    assert not staging.serving.batching.enabled
    assert C.BATCHING_FILE not in C.render(staging, "/m", versions=[1])


def test_prod_renders_specific_versions_labels_and_batching() -> None:
    cfg = config.load("prod")
    files = C.render(cfg, "/models/taxi_tips", versions=[7, 9], labels={"stable": 7, "canary": 9})
    model = C.load_model_server_config_text(files[C.MODELS_FILE]).model_config_list.config[0]
    assert list(model.model_version_policy.specific.versions) == [7, 9]
    assert dict(model.version_labels) == {"stable": 7, "canary": 9}
    batching = text_format.Parse(files[C.BATCHING_FILE], message_class("BatchingParameters")())
    b = cfg.serving.batching
    assert batching.max_batch_size.value == b.max_batch_size
    assert batching.batch_timeout_micros.value == b.batch_timeout_micros
    assert batching.num_batch_threads.value == b.num_batch_threads
    assert list(batching.allowed_batch_sizes) == b.allowed_batch_sizes


@pytest.mark.parametrize(
    ("env", "kwargs", "message"),
    [
        ("prod", {}, r"version_policy is 'specific' but no version was given"),
        (
            "prod",
            {"versions": [3], "labels": {"stable": 4}},
            r"label 'stable' points at version 4, which is not served",
        ),
        ("dev", {"labels": {"bad-label": 1}}, r"version label 'bad-label' must match"),
        ("prod", {"versions": [0]}, r"model versions must be positive"),
    ],
)
def test_impossible_serving_requests_are_refused(env, kwargs, message) -> None:
    with pytest.raises(ConfigError, match=message):
        C.render(config.load(env), "/m", **kwargs)


def test_a_file_the_protos_reject_is_named() -> None:
    files = C.render(config.load("dev"), "/m")
    files[C.MODELS_FILE] = files[C.MODELS_FILE].replace("model_platform", "model_platfrom")
    with pytest.raises(
        ConfigError,
        match=r"rendered models.config is not a valid "
        r"ModelServerConfig: .*model_platfrom",
    ):
        C.validate(files)
    files = C.render(config.load("prod"), "/m", versions=[1])
    files[C.BATCHING_FILE] += "max_batch_size { value: -x }\n"
    with pytest.raises(
        ConfigError,
        match=r"rendered batching.config is not a valid "
        r"BatchingParameters",
    ):
        C.validate(files)


@pytest.mark.parametrize(
    ("overlay", "message"),
    [
        ("serving:\n  grpc_port: 8501\n", r"serving.grpc_port: must differ from serving.rest_port"),
        (
            "serving:\n  batching:\n    enabled: true\n    max_batch_size: 16\n"
            "    allowed_batch_sizes: [8, 32]\n",
            r"serving.batching.allowed_batch_sizes: must increase and end with max_batch_size "
            r"\(16\)",
        ),
        ("serving:\n  rest_port: 70000\n", r"serving.rest_port: must be <= 65535"),
        ("serving:\n  version_policy: newest\n", r"serving.version_policy: expected one of"),
        (
            "loadtest:\n  slo:\n    p99_ms: 10\n",
            r"loadtest.slo.p99_ms: must be >= "
            r"loadtest.slo.p95_ms",
        ),
        (
            "loadtest:\n  slo:\n    max_failure_ratio: 2\n",
            r"loadtest.slo.max_failure_ratio: must be <= 1.0, got 2.0",
        ),
    ],
)
def test_bad_serving_overlays_fail_with_file_and_key(environments, overlay, message) -> None:
    update_overlay(environments, "dev", yaml.safe_load(overlay))
    with pytest.raises(ConfigError, match=r"environments/dev/config.yaml: " + message):
        config.load("dev", environments)


def test_files_are_replaced_atomically_and_stale_batching_removed(tmp_path) -> None:
    C.write(C.render(config.load("prod"), "/m", versions=[1]), tmp_path)
    assert (tmp_path / C.BATCHING_FILE).exists()
    C.write(C.render(config.load("staging"), "/m", versions=[1]), tmp_path)
    assert not (tmp_path / C.BATCHING_FILE).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [C.MODELS_FILE, C.MONITORING_FILE]


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        (
            [8, 12],
            r"Last entry in allowed_batch_sizes must match max_batch_size; last entry was 12; "
            r"expected 16",
        ),
        ([16, 8, 16], r"allowed_batch_sizes must increase"),
    ],
)
def test_allowed_batch_sizes_upstream_would_refuse_fail_at_render_time(sizes, message) -> None:
    """Upstream fails every model load with such a file; config.load refuses the overlay, and
    the render refuses the file too, whatever produced the config."""
    import dataclasses

    dev = config.load("dev")
    batching = dataclasses.replace(
        dev.serving.batching, max_batch_size=16, allowed_batch_sizes=sizes
    )
    cfg = dataclasses.replace(dev, serving=dataclasses.replace(dev.serving, batching=batching))
    with pytest.raises(ConfigError, match=r"rendered batching.config: " + message):
        C.render(cfg, "/m")
    good = dataclasses.replace(batching, allowed_batch_sizes=[4, 8, 16])
    cfg = dataclasses.replace(dev, serving=dataclasses.replace(dev.serving, batching=good))
    assert "allowed_batch_sizes: 16" in C.render(cfg, "/m")[C.BATCHING_FILE]
