"""Developer tooling: benchmarks, the workflow linter, the local registry and the mutation
report. Nothing the template runs in production imports it."""
