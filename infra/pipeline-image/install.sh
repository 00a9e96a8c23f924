#!/bin/sh
# The pipeline image's install steps, in one place: the Dockerfile runs them, and
# tests/delivery/test_pipeline_image.py runs the same file in a plain venv (no Docker daemon).
#   install.sh lock SRC      exactly requirements.lock, with uv as `make setup` installs it: every
#                            file checked against its hash, nothing resolved (--no-deps), so the
#                            image holds what CI tested
#   install.sh project SRC   this project from SRC, editable so environments/ stays beside the
#                            code, built with the locked setuptools and no index
# PYTHON (default: python) is the interpreter to install into.
set -eu
python="${PYTHON:-python}"
step="$1"
src="$2"
pip() { "$python" -m pip --disable-pip-version-check --no-input "$@"; }
case "$step" in
  lock)
    # uv first, itself hash-checked, then the lock with it: the same installer and flags as
    # `make setup`, so the image and every checkout install the lock the same way.
    pip install --no-cache-dir --no-deps --require-hashes -r "$src/infra/pipeline-image/uv.txt"
    "$python" -m uv pip install --python "$python" --no-deps --require-hashes --compile-bytecode \
      -r "$src/requirements.lock"
    ;;
  project)
    pip install --no-cache-dir --no-deps --no-build-isolation --no-index -e "$src"
    # A non-root user cannot write .pyc files next to the code: compile them now.
    "$python" -m compileall -q "$src"
    ;;
  *)
    echo "usage: install.sh lock|project SRC" >&2
    exit 2
    ;;
esac
