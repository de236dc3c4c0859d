"""The windowed and cogrouped streams return typed values (issue 15; the package ships py.typed).

mypy --strict checks tests/dsl/typing_sample.py in `make check`; these tests need no mypy:
the return annotations of every public method resolve to real classes, never Any, and the
sample builds.
"""

from __future__ import annotations

import inspect
import sys
import typing
from collections.abc import Callable
from typing import Any

import pytest

import streamz_kit as sk
from streamz_kit.dsl import cogrouped, grouped, kstream, ktable, windowed
from tests.dsl import typing_sample

# The names the grammar imports only under TYPE_CHECKING, to resolve its annotations.
GRAMMAR_NAMES = {
    "KGroupedStream": grouped.KGroupedStream,
    "KStream": kstream.KStream,
    "KTable": ktable.KTable,
    "CogroupedKStream": cogrouped.CogroupedKStream,
    "TimeWindowedKStream": windowed.TimeWindowedKStream,
    "SessionWindowedKStream": windowed.SessionWindowedKStream,
}

CLASSES = [
    windowed.TimeWindowedKStream,
    windowed.SessionWindowedKStream,
    cogrouped.CogroupedKStream,
    cogrouped.TimeWindowedCogroupedKStream,
    cogrouped.SessionWindowedCogroupedKStream,
]


def _public_methods() -> list[tuple[str, Callable[..., Any]]]:
    methods: list[tuple[str, Callable[..., Any]]] = [
        (f"{cls.__name__}.{name}", fn)
        for cls in CLASSES
        for name, fn in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    ]
    methods += [
        ("KGroupedStream.windowed_by", grouped.KGroupedStream.windowed_by),
        ("KGroupedStream.cogroup", grouped.KGroupedStream.cogroup),
        ("windowed.windowed_by", windowed.windowed_by),
    ]
    return methods


def _return_types(fn: Callable[..., Any]) -> list[Any]:
    hints = typing.get_type_hints(
        fn, globalns=vars(sys.modules[fn.__module__]), localns=GRAMMAR_NAMES
    )
    returned = hints["return"]
    return list(typing.get_args(returned)) if typing.get_origin(returned) else [returned]


def test_every_windowed_and_cogrouped_method_is_covered() -> None:
    names = {name for name, _ in _public_methods()}
    assert {"TimeWindowedKStream.count", "TimeWindowedKStream.emit_strategy"} <= names
    assert {"SessionWindowedKStream.aggregate", "CogroupedKStream.windowed_by"} <= names
    assert "TimeWindowedCogroupedKStream.aggregate" in names


@pytest.mark.parametrize(("name", "fn"), _public_methods(), ids=[n for n, _ in _public_methods()])
def test_public_methods_return_real_types(name: str, fn: Callable[..., Any]) -> None:
    returned = _return_types(fn)
    assert returned and Any not in returned, f"{name} returns {returned}"
    # a class, or Self (emit_strategy returns the windowed stream it was called on)
    assert all(isinstance(t, type) or t is typing.Self for t in returned), returned


def test_aggregations_return_ktables_and_the_sample_builds() -> None:
    for cls in CLASSES:
        for name in ("count", "reduce", "aggregate"):
            if hasattr(cls, name):
                assert _return_types(getattr(cls, name)) == [sk.KTable], (cls, name)
    topology = typing_sample.build().build()
    assert sorted(topology.user_sink_topics) == sorted(f"out-{n}" for n in range(10))
