"""Helpers the tests share: data and Transform runs, throw-away repositories, fakes of GitHub
and of a registry, the workflow replay, and model checks. Tests import these; conftest files
keep only fixtures."""
