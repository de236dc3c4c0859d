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
        {
            "scenario": "table_filter_map_values",
            "params": {"m": 2},
            "inputs": {"in": "long"},
            "outputs": {"out": "long"},
            "stores": {"t": "kv"},
            "steps": [{"t": "in", "k": "a", "v": 1, "ts": 0, "h": [["h", "1"]]}],
        },
        expected={"outputs": [], "stores": {"t": [["a", 1]]}, "error": None},
    )


def test_materialized_table_filter_drops_needless_tombstone() -> None:
    check_case(
        {
            "scenario": "table_filter_materialized",
            "params": {"m": 2},
            "inputs": {"in": "long"},
            "outputs": {"out": "long"},
            "stores": {"t": "kv", "f": "kv"},
            "steps": [{"t": "in", "k": "a", "v": 1, "ts": 0, "h": [["h", "1"]]}],
        },
        expected={"outputs": [], "stores": {"t": [["a", 1]], "f": []}, "error": None},
    )


# -- issue 14 (a)-(c), fixed by semantics: per-processor stream time, session merges within
# -- the store's retention, null keys (KIP-962). Cases written by hand from the reports.
def test_issue14_filter_tumbling_count() -> None:
    check_case(
        {
            "scenario": "filter_tumbling_count",
            "params": {"size": 10, "grace": 0},
            "inputs": {"in": "long"},
            "outputs": {"out": "long"},
            "stores": {"wcounts": "window"},
            "steps": [
                {"t": "in", "k": "a", "v": 0, "ts": 0},
                {"t": "in", "k": "a", "v": 1, "ts": 100},
                {"t": "in", "k": "a", "v": 2, "ts": 5},
            ],
            "store": "memory",
            "cache_bytes": 0,
        },
        expected={
            "outputs": [[0, "out", "a@0/10", 1, 0, []], [2, "out", "a@0/10", 2, 5, []]],
            "stores": {"wcounts": [["a", 0, 10, 2]]},
            "error": None,
        },
    )


def test_issue14_filter_session_merge() -> None:
    check_case(
        {
            "scenario": "filter_session_merge",
            "params": {"gap": 5, "grace": 2},
            "inputs": {"in": "long"},
            "outputs": {"out": "string"},
            "stores": {"smerge": "session"},
            "steps": [
                {"t": "in", "k": "a", "v": 0, "ts": 0},
                {"t": "in", "k": "a", "v": 2, "ts": 6},
                {"t": "in", "k": "a", "v": 4, "ts": 12},
                {"t": "in", "k": "a", "v": 6, "ts": 3},
                {"t": "in", "k": "a", "v": 8, "ts": 9},
                {"t": "in", "k": "a", "v": 1, "ts": 100},
                {"t": "in", "k": "a", "v": 10, "ts": 14},
            ],
            "store": "memory",
            "cache_bytes": 0,
        },
        expected={
            "outputs": [
                [0, "out", "a@0/0", "0;", 0, []],
                [1, "out", "a@6/6", "2;", 6, []],
                [2, "out", "a@12/12", "4;", 12, []],
                [3, "out", "a@6/6", None, 6, []],
                [3, "out", "a@3/6", "(|2;)6;", 6, []],
                [4, "out", "a@3/6", None, 6, []],
                [4, "out", "a@12/12", None, 12, []],
                [4, "out", "a@3/12", "((|(|2;)6;)|4;)8;", 12, []],
                [6, "out", "a@3/12", None, 12, []],
                [6, "out", "a@3/14", "(|((|(|2;)6;)|4;)8;)10;", 14, []],
            ],
            "stores": {"smerge": [["a", 3, 14, "(|((|(|2;)6;)|4;)8;)10;"]]},
            "error": None,
        },
    )


def test_issue14_filter_session_suppress() -> None:
    check_case(
        {
            "scenario": "filter_session_suppress",
            "params": {"gap": 5, "grace": 2},
            "inputs": {"in": "long"},
            "outputs": {"out": "long"},
            "stores": {"fssums": "session"},
            "steps": [
                {"t": "in", "k": "a", "v": 2, "ts": 1},
                {"t": "in", "k": "a", "v": 1, "ts": 30},
                {"t": "in", "k": "b", "v": 4, "ts": 31},
            ],
            "store": "memory",
            "cache_bytes": 0,
        },
        expected={
            "outputs": [[2, "out", "a@1/1", 2, 1, []]],
            "stores": {"fssums": [["b", 31, 31, 4]]},
            "error": None,
        },
    )


def test_issue14_rekey_ss_left_join() -> None:
    check_case(
        {
            "scenario": "rekey_ss_left_join",
            "params": {"diff": 5, "grace": 0},
            "inputs": {"left": "long", "right": "long"},
            "outputs": {"out": "string"},
            "stores": {},
            "steps": [
                {"t": "right", "k": "a", "v": 1, "ts": 0},
                {"t": "left", "k": "a", "v": 4, "ts": 1},
                {"t": "left", "k": "a", "v": 1, "ts": 2},
                {"t": "left", "k": None, "v": 3, "ts": 3},
            ],
            "store": "memory",
            "cache_bytes": 0,
        },
        expected={
            "outputs": [
                [1, "out", None, "4/null", 1, []],
                [2, "out", "a", "1/1", 2, []],
                [3, "out", None, "3/null", 3, []],
            ],
            "stores": {},
            "error": None,
        },
    )


def test_issue14_stream_table_left_join() -> None:
    check_case(
        {
            "scenario": "stream_table_left_join",
            "params": {},
            "inputs": {"left": "long", "right": "long"},
            "outputs": {"out": "string"},
            "stores": {},
            "steps": [
                {"t": "right", "k": "a", "v": 1, "ts": 0},
                {"t": "left", "k": None, "v": 3, "ts": 1},
                {"t": "left", "k": "a", "v": 2, "ts": 2},
            ],
            "store": "memory",
            "cache_bytes": 0,
        },
        expected={
            "outputs": [[1, "out", None, "3/null", 1, []], [2, "out", "a", "2/1", 2, []]],
            "stores": {},
            "error": None,
        },
    )


def test_stream_stream_join_with_no_time_difference_and_no_grace_joins_nothing() -> None:
    # Kafka keeps before + after + grace = 0 ms of each side: a record is expired as soon as
    # it is written, so even equal timestamps do not join (docs/semantics.md).
    check_case(
        {
            "scenario": "ss_inner_join",
            "params": {"diff": 0, "grace": 0},
            "inputs": {"left": "long", "right": "long"},
            "outputs": {"out": "string"},
            "stores": {},
            "store": "memory",
            "cache_bytes": 0,
            "steps": [
                {"t": "left", "k": "a", "v": 0, "ts": 0},
                {"t": "left", "k": "a", "v": 0, "ts": 0},
                {"t": "left", "k": "a", "v": 0, "ts": 0},
                {"t": "left", "k": "a", "v": 0, "ts": 0},
                {"t": "right", "k": "a", "v": 0, "ts": 0},
            ],
        },
        expected={"outputs": [], "stores": {}, "error": None},
    )


def test_versioned_join_grace_buffer_releases_equal_timestamps_in_key_order() -> None:
    # Kafka's time-ordered buffer keys entries by timestamp, then key: two records with the
    # same timestamp leave in key order, whatever order they arrived in.
    check_case(
        {
            "scenario": "versioned_stream_join",
            "params": {"history": 20, "grace": 5, "left": True},
            "inputs": {"s": "long", "t": "long"},
            "outputs": {"out": "string"},
            "stores": {},
            "store": "memory",
            "cache_bytes": 0,
            "steps": [
                {"t": "s", "k": "b", "v": 0, "ts": 0},
                {"t": "s", "k": "a", "v": 0, "ts": 0},
                {"t": "s", "k": "a", "v": 0, "ts": 5},
            ],
        },
        expected={
            "outputs": [[2, "out", "a", "0/null", 0, []], [2, "out", "b", "0/null", 0, []]],
            "stores": {},
            "error": None,
        },
    )


def test_versioned_table_latest_version_never_expires() -> None:
    # The stream record at 62398 looks up the table row valid then: the latest version of
    # "a" (ts 324) is beyond the 20 ms history retention, but a key's latest version never
    # expires in Kafka's versioned store, so it still joins.
    check_case(
        {
            "scenario": "versioned_stream_join",
            "params": {"left": False, "grace": 20, "history": 20},
            "inputs": {"s": "long", "t": "long"},
            "outputs": {"out": "string"},
            "stores": {},
            "store": "memory",
            "cache_bytes": 0,
            "steps": [
                {"t": "t", "k": "a", "v": 10, "ts": 324, "h": [["h", "10"]]},
                {"t": "s", "k": None, "v": 6, "ts": 330},
                {"t": "s", "k": "a", "v": 15, "ts": 31364},
                {"t": "s", "k": "a", "v": 15, "ts": 62398},
                {"t": "t", "k": "b", "v": 10, "ts": 62661},
                {"t": "s", "k": None, "v": 3, "ts": 64962},
                {"t": "s", "k": "a", "v": 15, "ts": 95996},
            ],
        },
        expected={
            "outputs": [[3, "out", "a", "15/10", 31364, []], [6, "out", "a", "15/10", 62398, []]],
            "stores": {},
            "error": None,
        },
    )
