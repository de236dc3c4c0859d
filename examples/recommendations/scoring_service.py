"""A tiny stand-in for a model server, and the async client the topology awaits per record.

The service (`ScoringService`, stdlib `http.server` in a thread) answers
`POST /score {"user": ..., "actions": ..., "items": [...]}` after a random 5-50 ms delay
with a score per item. The scores are a pure function of (user, item, base score), so a
retried call, or a recommendation processed again after a crash, gets the same answer:
what reaches `recommendations` never depends on timing. The service remembers every
(user, actions) it scored, so the demo and the tests can compare calls with outputs.

`Scorer` is the client side: an `async def` called by `map_values_async`, one pooled
httpx client per event loop, re-ranking the recommendation's items by the model's score.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

MIN_DELAY_S = 0.005
MAX_DELAY_S = 0.050


def model_score(user: str, item: str, base: float) -> float:
    """The "model": the base score times a per-(user, item) factor in [0.5, 1.5)."""
    digest = hashlib.sha256(f"{user}|{item}".encode()).digest()
    factor = 0.5 + int.from_bytes(digest[:4], "big") / 2**32
    return round(base * factor, 4)


def rescore(recommendation: dict[str, Any], scores: list[float]) -> dict[str, Any]:
    """The recommendation with its items' scores replaced and re-ranked (best first, ties to
    the smaller item id, so the order never depends on arrival)."""
    items = [{**item, "score": s} for item, s in zip(recommendation["items"], scores, strict=True)]
    items.sort(key=lambda i: (-i["score"], i["item"]))
    return {**recommendation, "items": items}


def expected(recommendation: dict[str, Any]) -> dict[str, Any]:
    """What the scoring step makes of `recommendation` (for tests and references)."""
    user = recommendation["user"]
    return rescore(
        recommendation, [model_score(user, i["item"], i["score"]) for i in recommendation["items"]]
    )


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default listen backlog (5) resets a burst of connections
    daemon_threads = True


class ScoringService:
    """The model server: `with ScoringService() as svc: svc.url`. Binds a free loopback port."""

    def __init__(
        self,
        *,
        min_delay: float = MIN_DELAY_S,
        max_delay: float = MAX_DELAY_S,
        seed: int | None = None,
    ) -> None:
        self.scored: Counter[tuple[str, int]] = Counter()  # (user, actions) -> calls
        self._lock = threading.Lock()
        rng = random.Random(seed)
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: the client pools its connections
            disable_nagle_algorithm = True  # headers and body go out in two writes

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", "0"))
                try:
                    request = json.loads(self.rfile.read(length))
                    user = str(request["user"])
                    scores = [
                        model_score(user, str(i["item"]), float(i["score"]))
                        for i in request["items"]
                    ]
                except (ValueError, KeyError, TypeError) as exc:
                    self._answer(400, {"error": f"bad scoring request: {exc}"})
                    return
                with service._lock:
                    delay = rng.uniform(min_delay, max_delay)
                    service.scored[(user, int(request.get("actions", -1)))] += 1
                time.sleep(delay)
                self._answer(200, {"scores": scores})

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return  # quiet: the demo prints its own summary

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="scoring-service", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/score"

    @property
    def calls(self) -> int:
        with self._lock:
            return sum(self.scored.values())

    def start(self) -> ScoringService:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ScoringService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Scorer:
    """The async step: POST the recommendation's items to `url`, return it re-ranked.

    One pooled client per event loop (the App runs one loop per worker, the test driver
    its own), created on first use. Errors propagate: `map_values_async` retries them."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            for stale in [lp for lp in self._clients if lp.is_closed()]:
                del self._clients[stale]
            client = self._clients[loop] = httpx.AsyncClient(
                trust_env=False,
                limits=httpx.Limits(max_connections=32, max_keepalive_connections=32),
            )
        return client

    async def __call__(self, recommendation: dict[str, Any]) -> dict[str, Any]:
        body = {
            "user": recommendation["user"],
            "actions": recommendation["actions"],
            "items": [{"item": i["item"], "score": i["score"]} for i in recommendation["items"]],
        }
        response = await self._client().post(self.url, json=body)
        if response.status_code != 200:
            raise RuntimeError(
                f"The scoring service at {self.url} answered {response.status_code} "
                f"({response.text[:200]}) for user {recommendation['user']!r}; check it runs."
            )
        return rescore(recommendation, response.json()["scores"])


if __name__ == "__main__":  # a standalone model server for `SCORING_URL=... streamz-kit run app.py`
    with ScoringService() as svc:
        print(f"scoring service on {svc.url} (Ctrl-C stops it)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
