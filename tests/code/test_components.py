"""Unit tests of the small pieces the pipeline adds to stock TFX: gate, pusher, baseline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tensorflow_metadata.proto.v0 import anomalies_pb2

from components import data_gate, pusher
from store import model_store


def _write_anomalies(root: Path, split: str, features: dict[str, int]) -> None:
    proto = anomalies_pb2.Anomalies()
    for name, kind in features.items():
        info = proto.anomaly_info[name]
        info.short_description = "Unexpected data type"
        info.reason.add(type=kind, description=f"{name} should be FLOAT")
    (root / f"Split-{split}").mkdir(parents=True)
    (root / f"Split-{split}" / data_gate.SCHEMA_DIFF_FILE).write_bytes(proto.SerializeToString())


def test_gate_reads_and_reports_each_anomaly(tmp_path: Path) -> None:
    kind = anomalies_pb2.AnomalyInfo.UNEXPECTED_DATA_TYPE
    _write_anomalies(tmp_path, "train", {"trip_miles": kind})
    _write_anomalies(tmp_path, "eval", {})
    found = data_gate.read_anomalies(str(tmp_path), ["train", "eval"])
    assert [(a.split, a.feature, a.kinds) for a in found] == [
        ("train", "trip_miles", ["UNEXPECTED_DATA_TYPE"])
    ]
    data_gate.write_report(found, str(tmp_path / "report"))
    report = json.loads((tmp_path / "report" / data_gate.REPORT_JSON).read_text())
    assert report["verdict"] == "FAIL"
    assert "trip_miles" in (tmp_path / "report" / data_gate.REPORT_MARKDOWN).read_text()


def test_gate_passes_clean_data(tmp_path: Path) -> None:
    _write_anomalies(tmp_path, "train", {})
    assert data_gate.read_anomalies(str(tmp_path), ["train"]) == []


def _model_dir(root: Path, content: bytes) -> Path:
    (root / "variables").mkdir(parents=True)
    (root / "saved_model.pb").write_bytes(content)
    (root / "variables" / "variables.index").write_bytes(b"index")
    return root


def test_digest_is_stable_and_content_sensitive(tmp_path: Path) -> None:
    a = _model_dir(tmp_path / "a", b"graph")
    b = _model_dir(tmp_path / "b", b"graph")
    c = _model_dir(tmp_path / "c", b"other graph")
    assert model_store.model_digest(a) == model_store.model_digest(b)
    assert model_store.model_digest(a) != model_store.model_digest(c)
    assert model_store.model_digest(a).startswith("sha256:")


def test_publish_is_atomic_and_only_numbers_count_as_versions(tmp_path: Path) -> None:
    model = _model_dir(tmp_path / "model", b"graph")
    store = tmp_path / "store"
    store.mkdir()
    (store / ".17.partial").mkdir()  # a crashed earlier copy: invisible to a model server
    assert model_store.versions(store) == []
    final = model_store.publish_atomically(str(model), str(store), 17)
    assert final == store / "17"
    assert model_store.versions(store) == [17]
    assert not (store / ".17.partial").exists()
    assert model_store.model_digest(final) == model_store.model_digest(model)


def test_publish_never_overwrites_a_version(tmp_path: Path) -> None:
    model = _model_dir(tmp_path / "model", b"graph")
    store = tmp_path / "store"
    model_store.publish_atomically(str(model), str(store), 5)
    other = _model_dir(tmp_path / "other", b"new graph")
    with pytest.raises(OSError):
        model_store.publish_atomically(str(other), str(store), 5)
    assert (store / "5" / "saved_model.pb").read_bytes() == b"graph"


def _artifact(cls, artifact_id: int, **props: int):
    art = cls()
    art.id = artifact_id
    for key, value in props.items():
        art.set_int_custom_property(key, value)
    return art


def test_stock_pusher_contract_kept(tmp_path: Path) -> None:
    """Our executor is a subclass, so TFX's blessing check and bookkeeping still apply."""
    from tfx.components.pusher import executor as stock

    assert issubclass(pusher.Executor, stock.Executor)
