"""Stateless chains fused into one loop per batch: `Task.process_batch` without the node calls.

Why: on W1 (filter -> map_values -> to) the per-record cost of the framework was mostly
Python frames, not work: the source's loop, `FilterNode.process`, `MapValuesNode.process`
and the sink's `_process_fixed` each cost a call, a `try`, and attribute lookups, around
user functions and C serdes that do the actual work. For a source whose records flow down a
line of stateless nodes (each with one child) into a sink on one topic with built-in serdes,
`fused_batch` writes that task's `process_batch` loop as Python source with every node's
`process` body inlined, compiles it once per chain shape, and binds it to the task's own
nodes. Nodes that cannot be inlined (stateful ones, fan-out, a user processor) end the line:
the loop calls their `process` as the nodes themselves would.

The inlined bodies mirror `processor/stateless.py` and `SinkNode._process_fixed` statement
for statement: the same user calls with the same arguments, the same wrapping of a failing
callback (`node.fail(exc)`, so the error names the operator), the same fallbacks (a sink
whose fast serialization fails or whose record is too large goes through `SinkNode.process`,
which raises the named error). The loop around them is `Task.process_batch`'s: the record
slot, stream time, punctuation, the error handler resuming after the failed record, the
consumed offset. tests/runtime/test_fusion.py checks fused against unfused on random chains.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from streamz_kit import serdes
from streamz_kit.errors import StreamzError
from streamz_kit.processor.context import TaskContext
from streamz_kit.processor.io import SinkNode, SourceNode
from streamz_kit.processor.node import Node
from streamz_kit.processor.stateless import (
    FilterNode,
    MapNode,
    MapValuesNode,
    PassThroughNode,
    PeekNode,
    SelectKeyNode,
    _is_pair,
)
from streamz_kit.transport.partitioner import default_partition
from streamz_kit.transport.port import ConsumedRecord, ProducerRecord


class BatchOwner(Protocol):
    """What the generated loop uses of its `Task` (runtime/task.py; not imported: a cycle)."""

    context: TaskContext
    processed: int
    consumed_offsets: dict[tuple[str, int], int]

    def _handle_error(self, record: ConsumedRecord, exc: StreamzError, mark: int) -> None: ...

    def _skip_negative_timestamp(self, record: ConsumedRecord, timestamp: int) -> None: ...


BatchFn = Callable[[list[ConsumedRecord]], None]

_INLINED = (FilterNode, MapNode, MapValuesNode, PassThroughNode, PeekNode, SelectKeyNode)
# the attribute holding each inlined node's user function (`f{i}` in the generated loop)
_USER_FN: dict[type, str] = {
    FilterNode: "predicate",
    MapNode: "mapper",
    MapValuesNode: "mapper",
    SelectKeyNode: "key_fn",
    PeekNode: "action",
}


def _plain(node: Node, cls: type) -> bool:
    """The node is exactly `cls`, running `cls.process` (no subclass, no rebound method)."""
    return type(node) is cls and "process" not in vars(node)


def _single_child(node: Node) -> Node | None:
    """The node's one child, when `forward` still calls exactly that child's `process`."""
    if len(node.children) != 1:
        return None
    child = node.children[0]
    return child if node.forward == child.process else None


def _fast_sink(node: Node) -> bool:
    """A sink whose `process` is `_process_fixed` (one topic, default partitioner, C serdes)."""
    return (
        type(node) is SinkNode
        and getattr(node.process, "__func__", None) is SinkNode._process_fixed
        and node._resolved_topic is not None  # noqa: SLF001 -- set by init
    )


def plan(source: SourceNode) -> list[Node] | None:
    """The nodes to inline after `source`, in order, or None when none qualifies. The line
    stops after a fast sink, before a node that cannot be inlined, and at a fan-out; the
    last inlined node's own `forward` (bound at wiring) then carries on."""
    line: list[Node] = []
    node: Node = source
    while True:
        child = _single_child(node)
        if child is None:
            break
        if _fast_sink(child):
            line.append(child)
            break
        if not any(_plain(child, cls) for cls in _INLINED):
            break
        line.append(child)
        node = child
    return line or None


# -- code generation ----------------------------------------------------------------------
_HEAD = """\
def process_batch(records):
    n = len(records)
    if not n:
        return
    first = records[0]
    current = context.current
    collector = context.collector
    append = collector.append
    punctuations = context.punctuations
    done = 0
    start = 0
    index = 0
    mark = 0
    try:
        while start < n:
            try:
                for index in range(start, n):
                    record = records[index]
                    mark = len(collector)
                    current.record = record
                    kb = record.key
                    vb = record.value
                    try:
                        key = None if kb is None else key_loads(kb)
                        value = None if vb is None else value_loads(vb)
                    except Exception:
                        key, value = source.deserialize(record)
                    timestamp = record.timestamp
                    if timestamp < 0:
                        task._skip_negative_timestamp(record, timestamp)
                        continue
                    current.timestamp = timestamp
                    if timestamp > context.stream_time:
                        context.stream_time = timestamp
                    headers = record.headers
"""

_TAIL = """\
                    done += 1
                    if punctuations.stream_time:
                        punctuations.fire_stream_time(context.stream_time)
                start = n
            except StreamzError as exc:
                task._handle_error(records[index], exc, mark)
                start = index + 1
    finally:
        task.processed += done
        task.consumed_offsets[(first.topic, first.partition)] = records[index].offset + 1
"""


def _call(fn: str, node: Any) -> str:
    return f"{fn}(key, value)" if getattr(node, "with_key", True) else f"{fn}(value)"


def _body(i: int, node: Node, string_key_in: bool) -> list[str]:
    """Statements of one inlined node (indented from 0); a filter opens an `if` block that
    holds everything after it. `n{i}` is the node, `f{i}` its user function."""
    wrap = ["except Exception as exc:", f"    raise n{i}.fail(exc) from exc"]
    t = type(node)
    if t is FilterNode:
        assert isinstance(node, FilterNode)
        # `not` evaluates the result's truth inside the try, as bool() does in the node
        return [
            "try:",
            f"    drop = not f{i}(key, value)",
            *wrap,
            "if drop:" if node.negate else "if not drop:",
        ]
    if t is MapValuesNode:
        return ["try:", f"    value = {_call(f'f{i}', node)}", *wrap]
    if t is MapNode:
        return [
            "try:",
            f"    pair = f{i}(key, value)",
            *wrap,
            "if (type(pair) is not tuple or len(pair) != 2) and not is_pair(pair):",
            f"    raise n{i}.fail(TypeError(",
            '        f"map\'s function must return a (key, value) pair, but it returned "',
            '        f"{pair!r:.80}. Return a 2-tuple, or use map_values to change the "',
            '        "value only."))',
            "key = pair[0]",
            "value = pair[1]",
        ]
    if t is SelectKeyNode:
        return ["try:", f"    key = f{i}(key, value)", *wrap]
    if t is PeekNode:
        return ["try:", f"    f{i}(key, value)", *wrap]
    if t is PassThroughNode:
        return []
    assert t is SinkNode
    key_bytes = f"None if key is None else {_dumps_expr(f'kd{i}', node, 'key')}"
    if string_key_in and getattr(node, "_key_dumps", None) is str.encode:
        # the key the source decoded, unchanged: its UTF-8 bytes are the input's (strict
        # decoding both ways), so they are not encoded again
        key_bytes = f"kb if key is key0 else ({key_bytes})"
    return [
        "try:",
        f"    key_bytes = {key_bytes}",
        f"    value_bytes = None if value is None else {_dumps_expr(f'vd{i}', node, 'value')}",
        "except Exception:",
        f"    sink_process(n{i}, key, value, timestamp, headers)",
        "else:",
        "    if (len(key_bytes) if key_bytes else 0) + (len(value_bytes) if value_bytes else 0)"
        " > context.max_record_bytes:",
        f"        sink_process(n{i}, key, value, timestamp, headers)",
        "    else:",
        "        if key_bytes is None:",
        f"            partition = default_partition(None, n{i}._width or n{i}._resolve_width())",
        "        else:",
        f"            partition = po{i}.get(key_bytes)",
        "            if partition is None:",
        f"                partition = partition_for(n{i}, key_bytes)",
        "        append(new_tuple(ProducerRecord, "
        f"(topic{i}, partition, key_bytes, value_bytes, timestamp, headers)))",
    ]


def _dumps_expr(name: str, sink: Any, which: str) -> str:
    """The sink's C serializer call; orjson's exact-size copy (serdes._JSON_DUMPS) inlined."""
    dumps = sink._key_dumps if which == "key" else sink._value_dumps  # noqa: SLF001
    if dumps is serdes._JSON_DUMPS:  # noqa: SLF001
        return f'b"%b" % orjson_dumps({which})'
    return f"{name}({which})"


def _partition_for(sink: SinkNode, key_bytes: bytes) -> int:
    """`_process_fixed`'s partition-cache miss: compute and remember."""
    partition = default_partition(key_bytes, sink._width or sink._resolve_width())  # noqa: SLF001
    cache = sink._partition_of  # noqa: SLF001
    if len(cache) > 100_000:
        cache.clear()
    cache[key_bytes] = partition
    return partition


def _source(line: list[Node], string_key_in: bool) -> str:
    """The loop's text; `string_key_in`: the source decodes keys with `bytes.decode`."""
    lines: list[str] = ["key0 = key"] if string_key_in else []
    depth = 0
    for i, node in enumerate(line):
        for stmt in _body(i, node, string_key_in):
            lines.append("    " * depth + stmt)
        if type(node) is FilterNode:
            depth += 1
    if not isinstance(line[-1], SinkNode) and line[-1].children:
        lines.append("    " * depth + "forward_tail(key, value, timestamp, headers)")
    if not lines or lines[-1].rstrip().endswith(":"):
        lines.append("    " * depth + "pass")
    indent = " " * 20
    return _HEAD + "".join(f"{indent}{s}\n" for s in lines) + _TAIL


_COMPILED: dict[str, Any] = {}


def fused_batch(task: BatchOwner, source: SourceNode) -> BatchFn | None:
    """`task`'s batch loop for records of `source`, with the stateless line after it
    inlined; None when the source does not qualify (the task keeps its generic loop)."""
    fast = source.fast_loads(source.topics[0]) if source.topics else None
    if fast is None or source.timestamp_extractor is not None:
        return None
    line = plan(source)
    if line is None:
        return None
    text = _source(line, fast[0] is bytes.decode)
    code = _COMPILED.get(text)
    if code is None:
        code = _COMPILED[text] = compile(text, f"<fused batch of {source.name}>", "exec")
    namespace: dict[str, Any] = {
        "task": task,
        "context": task.context,
        "source": source,
        "key_loads": fast[0],
        "value_loads": fast[1],
        "StreamzError": StreamzError,
        "ProducerRecord": ProducerRecord,
        "new_tuple": tuple.__new__,
        "is_pair": _is_pair,
        "default_partition": default_partition,
        "partition_for": _partition_for,
        "sink_process": SinkNode.process,
        "orjson_dumps": serdes._ORJSON_DUMPS,  # noqa: SLF001
        # the last inlined node's forward: its child's process, or a fan-out
        "forward_tail": line[-1].forward,
    }
    for i, node in enumerate(line):
        namespace[f"n{i}"] = node
        if isinstance(node, SinkNode):
            namespace[f"kd{i}"] = node._key_dumps  # noqa: SLF001
            namespace[f"vd{i}"] = node._value_dumps  # noqa: SLF001
            namespace[f"po{i}"] = node._partition_of  # noqa: SLF001
            namespace[f"topic{i}"] = node._resolved_topic  # noqa: SLF001
        elif type(node) in _USER_FN:
            namespace[f"f{i}"] = getattr(node, _USER_FN[type(node)])
    exec(code, namespace)  # noqa: S102 -- our own template, no user text in it
    batch_fn: BatchFn = namespace["process_batch"]
    return batch_fn
