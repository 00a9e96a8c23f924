#!/bin/sh
# The pipeline image's install steps, in one place: the Dockerfile runs them, and
# tests/delivery/test_pipeline_image.py runs the same file in a plain venv (no Docker daemon).
#   install.sh lock SRC      exactly requirements.lock: every file checked against its hash,
#                            nothing resolved (--no-deps), so the image holds what CI tested
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
    # --ignore-requires-python: the TFX 1.16 family declares <3.11 but ships cp311 wheels,
    # which is why the lock installs without resolving (see pyproject.toml).
    pip install --no-cache-dir --no-deps --require-hashes --ignore-requires-python \
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
