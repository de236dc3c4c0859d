"""Talking to a Confluent-compatible registry over HTTP, sync and async, with retries.

httpx because one library gives both a blocking client (serdes run inside the synchronous
per-record path and fetch a schema once per id) and an asyncio client (for code that
registers schemas from coroutines), with the same TLS, auth and timeout settings; it is also
what confluent-kafka's own registry client uses. It is imported only when an http(s) registry
is used.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from streamz_kit.schemas.errors import RegistryUnavailableError

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
_RETRY_STATUS = {408, 429, 500, 502, 503, 504}


class HttpTransport:
    def __init__(
        self,
        url: str,
        *,
        basic_auth: tuple[str, str] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        timeout: float = 10.0,
        max_retries: int = 3,
        retry_backoff_ms: int = 100,
        retry_max_backoff_ms: int = 2000,
    ) -> None:
        import httpx

        self.url = url.rstrip("/")
        self._httpx = httpx
        tls: Any = verify
        if isinstance(verify, str) or cert is not None:
            import ssl

            tls = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
            if verify is False:
                tls.check_hostname = False
                tls.verify_mode = ssl.CERT_NONE
            if cert is not None:
                tls.load_cert_chain(*((cert,) if isinstance(cert, str) else cert))
        self._settings: dict[str, Any] = {
            "base_url": self.url,
            "auth": httpx.BasicAuth(*basic_auth) if basic_auth else None,
            "verify": tls,
            "timeout": timeout,
            "headers": {"Accept": CONTENT_TYPE, "Content-Type": CONTENT_TYPE},
        }
        self.max_retries = max_retries
        self.backoff_ms = retry_backoff_ms
        self.max_backoff_ms = retry_max_backoff_ms
        self._sync: Any = None
        self._async: Any = None

    def _delay(self, attempt: int) -> float:
        """Exponential backoff with full jitter, capped."""
        cap = min(self.max_backoff_ms, self.backoff_ms * (2**attempt))
        return random.uniform(cap / 2, cap) / 1000.0

    def _unavailable(self, method: str, path: str, cause: str) -> RegistryUnavailableError:
        return RegistryUnavailableError(
            f"The schema registry at {self.url} did not answer {method} {path} after "
            f"{self.max_retries + 1} attempts ({cause}); check that it is running and "
            "reachable, or raise max_retries.",
            status=503,
            error_code=50003,
        )

    def request(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        if self._sync is None:
            self._sync = self._httpx.Client(**self._settings)
        cause = ""
        for attempt in range(self.max_retries + 1):
            try:
                resp = self._sync.request(
                    method, path, params=query or None, json=body if body is not None else None
                )
            except self._httpx.TransportError as exc:
                cause = f"{type(exc).__name__}: {exc}"
            else:
                if resp.status_code not in _RETRY_STATUS:
                    return resp.status_code, _decode(resp)
                cause = f"HTTP {resp.status_code}"
            if attempt < self.max_retries:
                time.sleep(self._delay(attempt))
        raise self._unavailable(method, path, cause)

    async def arequest(
        self, method: str, path: str, query: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        if self._async is None:
            self._async = self._httpx.AsyncClient(**self._settings)
        cause = ""
        for attempt in range(self.max_retries + 1):
            try:
                resp = await self._async.request(
                    method, path, params=query or None, json=body if body is not None else None
                )
            except self._httpx.TransportError as exc:
                cause = f"{type(exc).__name__}: {exc}"
            else:
                if resp.status_code not in _RETRY_STATUS:
                    return resp.status_code, _decode(resp)
                cause = f"HTTP {resp.status_code}"
            if attempt < self.max_retries:
                await asyncio.sleep(self._delay(attempt))
        raise self._unavailable(method, path, cause)

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    async def aclose(self) -> None:
        if self._async is not None:
            await self._async.aclose()
            self._async = None


def _decode(resp: Any) -> Any:
    if not resp.content:
        return None
    try:
        return resp.json()
    except ValueError:
        return resp.text
