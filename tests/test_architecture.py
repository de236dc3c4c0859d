"""The package's shape: no import cycle outside the DSL grammar, layers imported only
downwards, no module over 500 lines.

Every import counts, also those under `if TYPE_CHECKING:` and inside functions: a cycle
hidden that way still means two modules that cannot be understood (or moved) apart.
"""

from __future__ import annotations

import ast
from pathlib import Path

import streamz_kit

PACKAGE = Path(streamz_kit.__file__).parent
MAX_LINES = 500
# The fluent API's classes return each other (KStream.group_by -> KGroupedStream ->
# KTable.to_stream -> KStream); that cycle is the grammar itself, and the only one allowed.
# The windowed and cogrouped streams are grammar too (KGroupedStream.windowed_by(...).count()
# returns a KTable, typed for the users' type checkers). Helpers (joins, suppress, ...) never
# import it: they see streams and tables through dsl/shapes.py, add nodes, and the grammar
# wraps what they return.
GRAMMAR = {
    f"streamz_kit.dsl.{m}"
    for m in ("builder", "kstream", "ktable", "grouped", "windowed", "cogrouped")
}

# The layers, lowest first: a module imports its own layer and those below it, never one
# above. A module belongs to the layer of the longest name listed that it starts with
# (docs/architecture.md draws the same order).
LAYERS: list[tuple[str, ...]] = [
    # foundation: values, errors and small leaves every layer may use
    (
        "errors",
        "windows",
        "emit",
        "handlers",
        "lifecycle",
        "app_state",
        "logs",
        "faults",
        "serdes",
        "serdes_windowed",
        # a leaf (it imports nothing of the package): the processor's async node keeps its
        # call latencies in the same Histogram the observability exposition reads
        "observability.histogram",
    ),
    # the broker port with its embedded log and Kafka adapters; the schema registry, whose
    # embedded form keeps schemas in a topic of that log
    ("transport", "schemas"),
    # validates App(...) keys, client settings included: it asks the Kafka transport which
    # client settings it accepts (config.known_client_settings)
    ("config",),
    ("state", "stores"),
    ("processor",),
    ("topology",),
    ("dsl",),
    ("runtime",),
    ("observability",),
    ("app", "testing", "loader", "reset", "cli", "cli_records", "cli_topics"),
    ("", "__main__"),  # the package itself re-exports the public names of every layer
]
# Imports that point upwards, each with its reason. Keep this list short: a new upward
# import is moved into a module both sides can import, or gets a line here with its reason.
UPWARD_EXCEPTIONS: dict[tuple[str, str], str] = {
    # serdes.avro()/json_schema()/protobuf()/typed() are the public factories of the registry
    # serdes; they import them when called, and those serde modules import only schemas'
    # wire format and models (no transport).
    **{
        ("streamz_kit.serdes", f"streamz_kit.schemas.serde_{kind}"): "public serde factories"
        for kind in ("avro", "json", "protobuf", "typed")
    },
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Modules of the package that `name` imports, anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                child = f"{base}.{alias.name}"
                found.add(child if child in modules else base)
    return {m for m in found if m in modules and m != name}


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def test_no_import_cycle_outside_the_dsl_grammar() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    bad = [sorted(c) for c in _cycles(graph) if not c <= GRAMMAR]
    assert not bad, f"import cycles (break them with a module both sides can import): {bad}"


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def _layer(module: str) -> int:
    name = module.removeprefix("streamz_kit").removeprefix(".")
    best, level = -1, -1
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            matches = name == prefix or name.startswith(prefix + ".")
            if matches and len(prefix) > best:
                best, level = len(prefix), i
    assert level >= 0, f"{module} is in no layer: add it to LAYERS in tests/test_architecture.py"
    return level


def test_layers_are_imported_only_downwards() -> None:
    modules = _modules()
    upward = sorted(
        f"{name} (layer {_layer(name)}) imports {target} (layer {_layer(target)})"
        for name, path in modules.items()
        for target in _imports(name, path, modules)
        if _layer(target) > _layer(name) and (name, target) not in UPWARD_EXCEPTIONS
    )
    assert not upward, (
        "imports from a higher layer (move what both need into a module of the lower layer, "
        f"or list the import in UPWARD_EXCEPTIONS with its reason): {upward}"
    )


def test_layers_follow_the_documented_order() -> None:
    order = [
        "serdes",
        "transport.port",
        "config",
        "state.manager",
        "processor.node",
        "topology.graph",
        "dsl.kstream",
        "runtime.task",
        "observability.prometheus",
        "app",
    ]
    levels = [_layer(f"streamz_kit.{m}") for m in order]
    assert levels == sorted(levels) and len(set(levels)) == len(levels), levels
    assert _layer("streamz_kit.observability.histogram") == _layer("streamz_kit.errors")
    assert _layer("streamz_kit") == len(LAYERS) - 1


def test_upward_exceptions_are_still_needed() -> None:
    modules = _modules()
    present = {(n, t) for n, p in modules.items() for t in _imports(n, p, modules)}
    stale = sorted(set(UPWARD_EXCEPTIONS) - present)
    assert not stale, f"remove these from UPWARD_EXCEPTIONS, nothing imports that way: {stale}"


def test_no_module_over_500_lines() -> None:
    long = {
        str(path.relative_to(PACKAGE.parent)): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"split these modules (one job each, at most {MAX_LINES} lines): {long}"
