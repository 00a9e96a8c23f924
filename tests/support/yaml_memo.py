"""Parse and write each distinct YAML document once per test.

Promotion re-reads every environment's config and release record on each call, and re-renders
its manifests on each write; the property-based tests make thousands of such calls on the same
few documents, and PyYAML's pure-Python loader and emitter were most of their time.
`yaml_once` remembers, for as long as it is open:

- what `yaml.load` (and so `yaml.safe_load`) returned for the exact text and loader, and hands
  back a fresh copy each time, so a caller that edits its mapping changes nothing for the next;
- what `yaml.dump_all` (and so `yaml.safe_dump`) wrote for the exact data, dumper and options.
  The data is keyed by its pickle, which tells apart every type and order and every shared
  object the dumper would write as an alias, so equal keys always give the same text.

A text that fails to parse, or data that fails to write, is not remembered: it raises the
library's own error every time. Streams (file objects) go straight to PyYAML.
"""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml


@dataclass
class YamlMemo:
    parsed: dict[tuple[type, str], bytes] = field(default_factory=dict)  # -> pickled result
    written: dict[tuple[type, bytes, str], str] = field(default_factory=dict)
    hits: int = 0


@contextlib.contextmanager
def yaml_once(monkeypatch: pytest.MonkeyPatch) -> Iterator[YamlMemo]:
    """While open, YAML text and data seen before are not parsed or written again."""
    real_load, real_dump_all = yaml.load, yaml.dump_all
    memo = YamlMemo()

    def load(stream: Any, Loader: type) -> Any:  # PyYAML's own parameter names
        if not isinstance(stream, str):
            return real_load(stream, Loader)
        key = (Loader, stream)
        if key in memo.parsed:
            memo.hits += 1
        else:
            memo.parsed[key] = pickle.dumps(real_load(stream, Loader))
        return pickle.loads(memo.parsed[key])  # a fresh copy: callers may edit it

    def dump_all(
        documents: Any, stream: Any = None, Dumper: type = yaml.Dumper, **kwds: Any
    ) -> Any:
        try:
            data: bytes | None = pickle.dumps(documents)
        except Exception:  # not picklable: written by PyYAML every time, as without the memo
            data = None
        if stream is not None or data is None:
            return real_dump_all(documents, stream, Dumper=Dumper, **kwds)
        key = (Dumper, data, repr(sorted(kwds.items())))
        if key in memo.written:
            memo.hits += 1
        else:
            memo.written[key] = real_dump_all(documents, None, Dumper=Dumper, **kwds)
        return memo.written[key]

    with monkeypatch.context() as patch:
        patch.setattr(yaml, "load", load)
        patch.setattr(yaml, "dump_all", dump_all)
        yield memo
