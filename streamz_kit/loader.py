"""Find the App or Topology a user's script defines, from `path/to/app.py[:name]` or
`module:name`, with errors that say what was looked for and where."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from streamz_kit.app import App
from streamz_kit.errors import ConfigError
from streamz_kit.topology.topology import Topology


def _load_module(target: str) -> Any:
    path = Path(target)
    if target.endswith(".py") or path.exists():
        if not path.is_file():
            raise ConfigError(f"App file {target!r} does not exist; check the path.")
        module_name = f"streamz_user_{path.stem}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise ConfigError(f"Cannot load {target!r} as a Python file.")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        parent = str(path.resolve().parent)
        if parent not in sys.path:
            sys.path.insert(0, parent)
        spec.loader.exec_module(module)
        return module
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"Cannot find {target!r}: it is neither a file nor an importable module ({exc})."
        ) from exc


def load_app(spec: str, *, application_id: str | None = None) -> App:
    """Import the script and return its App (wrapping a Topology in one)."""
    target, _, name = spec.partition(":")
    if ":" in spec and len(target) == 1 and spec[1:3] == ":\\":  # a Windows drive letter
        target, name = spec, ""
    module = _load_module(target)
    candidates: list[tuple[str, Any]]
    if name:
        if not hasattr(module, name):
            raise ConfigError(f"{target} has no attribute {name!r}; name an App or a Topology.")
        candidates = [(name, getattr(module, name))]
    else:
        preferred = [n for n in ("app", "topology") if hasattr(module, n)]
        others = [n for n in vars(module) if not n.startswith("_") and n not in preferred]
        candidates = [(n, getattr(module, n)) for n in preferred + others]
    for _attr, obj in candidates:
        if isinstance(obj, App):
            if application_id:
                obj.configure(application_id=application_id)
            return obj
    for _attr, obj in candidates:
        if isinstance(obj, Topology):
            return App(obj, application_id=application_id or Path(target).stem.replace("_", "-"))
    raise ConfigError(
        f"{spec} defines no App or Topology. Add `app = sk.App(topology, application_id=...)` "
        "(or a module-level `topology = builder.build()`), or name one with FILE:NAME."
    )
