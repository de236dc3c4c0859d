"""Crash injection for the fault tests: a worker kills itself at a named point on request.

Why a hook inside the process: a SIGKILL sent from outside lands wherever the worker happens
to be, which is almost never the narrow windows that matter (between producing and
committing, between committing and writing the stores, in the middle of a restore). The
crash suite names those windows and asks the worker to die exactly there.

Off unless `STREAMZ_FAULT_KILL_POINT` is set; the environment is read once, at import, so
`maybe_crash` costs one dictionary lookup on the commit path. Its value is a comma-separated
list of `point[@probability]` (e.g. `commit:after_produce@0.2,restore:batch@0.5`); a point
ending in `*` matches every point with that prefix (`commit:*`). Without `@`, the
probability is `STREAMZ_FAULT_KILL_PROB` (default 1.0). `STREAMZ_FAULT_SEED` seeds the
draw so a failing run can be replayed.

Points the runtime calls (see docs/reliability.md): `commit:after_drain`,
`commit:after_produce`, `commit:after_flush`, `commit:after_commit`, `commit:after_apply`,
`restore:start`, `restore:batch`; the embedded log's cleanup (transport/embedded/retention.py)
calls `cleanup:after_delete`, `cleanup:after_purge` and `cleanup:vacuum`.
"""

from __future__ import annotations

import os
import random
import signal

ENV_POINTS = "STREAMZ_FAULT_KILL_POINT"
ENV_PROB = "STREAMZ_FAULT_KILL_PROB"
ENV_SEED = "STREAMZ_FAULT_SEED"
MARKER = "streamz_kit.faults: killing the worker at "


def parse_points(
    spec: str, default_prob: float = 1.0
) -> tuple[dict[str, float], list[tuple[str, float]]]:
    """Exact points and `prefix*` patterns with their kill probabilities."""
    exact: dict[str, float] = {}
    prefixes: list[tuple[str, float]] = []
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        name, at, prob_text = item.partition("@")
        try:
            prob = float(prob_text) if at else default_prob
        except ValueError:
            raise ValueError(
                f"{ENV_POINTS} item {item!r} has a probability that is not a number; "
                "write it as point@0.25."
            ) from None
        name = name.strip()
        if name.endswith("*"):
            prefixes.append((name[:-1], prob))
        else:
            exact[name] = prob
    return exact, prefixes


def _load() -> tuple[dict[str, float], list[tuple[str, float]], random.Random]:
    spec = os.environ.get(ENV_POINTS, "")
    seed = os.environ.get(ENV_SEED)
    rng = random.Random(seed)
    if not spec.strip():
        return {}, [], rng
    return (*parse_points(spec, float(os.environ.get(ENV_PROB, "1.0"))), rng)


_EXACT, _PREFIXES, _RNG = _load()
ENABLED = bool(_EXACT or _PREFIXES)


def _probability(point: str) -> float:
    prob = _EXACT.get(point)
    if prob is not None:
        return prob
    for prefix, p in _PREFIXES:
        if point.startswith(prefix):
            return p
    return 0.0


def maybe_crash(point: str) -> None:
    """SIGKILL this process at `point` if the environment asked for it (no-op otherwise).

    Writes one line naming the point to stderr first (unbuffered, so it survives the kill),
    which lets the crash suite count where its workers died.
    """
    if not ENABLED:
        return
    prob = _probability(point)
    if prob <= 0.0 or _RNG.random() >= prob:
        return
    try:
        os.write(2, f"{MARKER}{point}\n".encode())
    finally:
        os.kill(os.getpid(), signal.SIGKILL)
