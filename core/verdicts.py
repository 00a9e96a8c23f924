"""The words gates and promotion rules write: verdicts and rule names, one enum each.

Records, reports, JSON and the README's tables hold these exact strings, so each enum is
str-valued: a member compares equal to its text, prints and formats as it, and serialises to it
in JSON, so nothing written changes. Python 3.10 has no enum.StrEnum, hence `_Text`.
"""

from __future__ import annotations

from enum import Enum


class _Text(str, Enum):
    """A str-valued enum that prints as its value; f-strings and format() follow str()."""

    def __str__(self) -> str:
        return str(self.value)


class Verdict(_Text):
    """What a gate decided."""

    PASS = "PASS"
    FAIL = "FAIL"
    WARN = "WARN"  # the drift gate in mode warn: drift found, the run goes on
    SKIPPED = "SKIPPED"  # the drift gate without a baseline to compare with
    NONE = "NONE"  # a release whose load test has not run yet
    INCONCLUSIVE = "INCONCLUSIVE"  # a canary analysis with too little traffic or no data


class Rule(_Text):
    """The promotion rules: each refusal names one (`refused (<rule>): ...`)."""

    STAGE_ORDER = "stage-order"
    PIPELINE_OUTPUT = "pipeline-output"
    SOURCE_RELEASED = "source-released"
    LOAD_TEST_PASSED = "load-test-passed"
    ANALYSIS_PASSED = "analysis-passed"
    DIGEST_MATCHES = "digest-matches"
    ARTIFACT_EXISTS = "artifact-exists"
    TAG_MATCHES = "tag-matches"
    REGISTRY_REACHABLE = "registry-reachable"
    NOT_ALREADY_THERE = "not-already-there"
    EXPECTED_VERSION = "expected-version"
    PREVIOUS_RELEASE = "previous-release"
    SERVES_THE_RELEASE = "serves-the-release"
    STORE = "store"  # the store refused for a reason no rule above names
