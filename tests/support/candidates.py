"""A second candidate without a second training run, for the flows that need a previous release
to roll back to: the first model plus one asset, published through the store API exactly as the
Pusher publishes it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from store.model_store import Artifact

# Runs in a job's clone, so that the clone's own code and config pick the store, as on a runner.
_PUBLISH = """
import json, shutil, sys
from pathlib import Path
from core import config
from store.model_store import Artifact, open_store, store_of
version, digest, ref = json.loads(sys.argv[1])
first = Artifact(version, digest, ref)
pulled = store_of(first.ref).materialize(first, Path('build/pull'))
model = Path('build/second')
shutil.copytree(pulled, model)
(model / 'assets.extra').mkdir(exist_ok=True)
(model / 'assets.extra' / 'note.txt').write_text('second candidate')
store = open_store(config.load('dev').model_store_dir)
art = store.publish(model, first.version + 1, {'mlops.template.model.name': 'taxi_tips'})
print(json.dumps({'pushed': True, 'pushed_version': str(art.version), 'pushed_path': art.ref,
                  'model_digest': art.tree_digest, 'overall': {'metrics': {}}}))
"""


def publish_second_candidate(
    clone: Path, env: Mapping[str, str], first: Artifact, upload: Path
) -> Path:
    """Publish version `first.version + 1` to dev's store from `clone`, and write the run summary
    that names it to `upload`, where the next job downloads it from."""
    out = subprocess.run(
        [sys.executable, "-c", _PUBLISH, json.dumps([first.version, first.tree_digest, first.ref])],
        cwd=clone,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    upload.parent.mkdir(parents=True)
    upload.write_text(out.stdout.strip().splitlines()[-1])
    return upload
