"""The Pusher's real executor, against each store kind: a folder, a bucket and a registry.

The bucket is TensorFlow's in-memory `ram://` filesystem, reached through the same tf.io.gfile
calls as gs:// and s3://; the registry is a real CNCF Distribution registry on loopback.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest
from google.protobuf import json_format
from tfx.proto import pusher_pb2
from tfx.types import standard_artifacts

from components import pusher
from store.model_store import model_digest, open_store
from tests.support.project import MODEL
from tests.support.stores import fake_model

_RAM = itertools.count()
FUTURE = 9_999_999_999  # a version above any epoch-seconds version the Pusher would pick


# The registry case is slow (an OCI registry is a server: tests/support/fast_loop.py).
@pytest.fixture(params=["folder", "bucket", pytest.param("oci", marks=pytest.mark.slow)])
def store_uri(request, tmp_path: Path) -> str:
    if request.param == "folder":
        return str(tmp_path / "store" / MODEL)
    if request.param == "bucket":
        return f"ram://bucket{next(_RAM)}/models/{MODEL}"
    registry = request.getfixturevalue("registry")
    return registry.store_uri(f"pusher/{tmp_path.name.lower()}") + f"/{MODEL}"


def _push(
    tmp_path: Path, store_uri: str, seed: int, blessed: bool = True, same_as: Path | None = None
):
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "Trainer" / "model" / str(seed))
    if same_as is not None:
        shutil.copytree(same_as, Path(model.uri) / "Format-Serving")
    else:
        fake_model(Path(model.uri) / "Format-Serving", seed)
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(tmp_path / "Evaluator" / "blessing" / str(seed))
    blessing.set_int_custom_property("blessed", int(blessed))
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(tmp_path / "Pusher" / "pushed_model" / str(seed))
    destination = pusher_pb2.PushDestination(
        filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=store_uri)
    )
    pusher.Executor().Do(
        {"model": [model], "model_blessing": [blessing]},
        {"pushed_model": [pushed]},
        {"push_destination": json_format.MessageToJson(destination)},
    )
    return pushed, Path(model.uri) / "Format-Serving"


def test_blessed_model_gets_a_version_above_every_existing_one(
    tmp_path: Path, store_uri: str
) -> None:
    store = open_store(store_uri)
    store.publish(fake_model(tmp_path / "older", 1), FUTURE, {})
    pushed, model = _push(tmp_path, store_uri, seed=2)
    assert pushed.get_int_custom_property("pushed") == 1
    assert pushed.get_string_custom_property("pushed_version") == str(FUTURE + 1)
    assert store.versions() == [FUTURE, FUTURE + 1]
    artifact = store.resolve(FUTURE + 1)
    assert artifact is not None
    assert artifact.tree_digest == model_digest(model)
    assert pushed.get_string_custom_property("pushed_destination") == artifact.ref
    assert pushed.get_string_custom_property(pusher.DIGEST_PROPERTY) == artifact.tree_digest


def test_an_identical_model_reuses_the_newest_version(tmp_path: Path, store_uri: str) -> None:
    first, model = _push(tmp_path / "a", store_uri, seed=3)
    again, _ = _push(tmp_path / "b", store_uri, seed=3, same_as=model)  # same bytes, new run
    assert again.get_int_custom_property("reused_version") == 1
    assert again.get_string_custom_property("pushed_version") == first.get_string_custom_property(
        "pushed_version"
    )
    assert open_store(store_uri).versions() == [
        int(first.get_string_custom_property("pushed_version"))
    ]


def test_a_model_that_is_not_blessed_writes_nothing(tmp_path: Path, store_uri: str) -> None:
    store = open_store(store_uri)
    store.publish(fake_model(tmp_path / "older", 1), FUTURE, {})
    pushed, _ = _push(tmp_path, store_uri, seed=4, blessed=False)
    assert pushed.get_int_custom_property("pushed") == 0
    assert store.versions() == [FUTURE]


def test_the_pushed_model_reads_back_whole(tmp_path: Path, store_uri: str) -> None:
    """What serving and promotion pull from the store is the tree the Pusher was given."""
    pushed, model = _push(tmp_path, store_uri, seed=5)
    store = open_store(store_uri)
    artifact = store.resolve(int(pushed.get_string_custom_property("pushed_version")))
    assert artifact is not None
    local = store.materialize(artifact, tmp_path / "cache")
    files = sorted(p.relative_to(local) for p in local.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(model) for p in model.rglob("*") if p.is_file())
    assert model_digest(local) == model_digest(model) == artifact.tree_digest
