"""Differences the oracle found, pinned: each case is the Hypothesis shrinker's minimal input
and `expected` is Kafka Streams 4.4's own answer (TopologyTestDriver, cache 0). They run
without a JVM. Add one by pasting the test a failing oracle run prints."""

from __future__ import annotations

from tests.oracle.compare import check_case


def test_table_filter_after_named_table_drops_needless_tombstone() -> None:
    # Kafka's KTableFilter asks its parent for old values without forcing materialization; a
    # table materialized under a name gives them, so a rejected record whose key had no
    # (accepted) value before forwards nothing instead of a tombstone.
    check_case(
        {'scenario': 'table_filter_map_values',
         'params': {'m': 2},
         'inputs': {'in': 'long'},
         'outputs': {'out': 'long'},
         'stores': {'t': 'kv'},
         'steps': [{'t': 'in', 'k': 'a', 'v': 1, 'ts': 0, 'h': [['h', '1']]}]},
        expected={'outputs': [], 'stores': {'t': [['a', 1]]}, 'error': None},
    )


def test_materialized_table_filter_drops_needless_tombstone() -> None:
    check_case(
        {'scenario': 'table_filter_materialized',
         'params': {'m': 2},
         'inputs': {'in': 'long'},
         'outputs': {'out': 'long'},
         'stores': {'t': 'kv', 'f': 'kv'},
         'steps': [{'t': 'in', 'k': 'a', 'v': 1, 'ts': 0, 'h': [['h', '1']]}]},
        expected={'outputs': [], 'stores': {'t': [['a', 1]], 'f': []}, 'error': None},
    )
