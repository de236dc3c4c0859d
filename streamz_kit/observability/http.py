"""A small HTTP/1.1 server on the App's event loop (no extra dependency, no threads).

Running in the worker's own loop means handlers read tasks and stores between batches,
never while a batch is half processed; each request is answered and the connection closed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl, unquote, urlsplit

log = logging.getLogger("streamz_kit.http")

# (method, path parts, query) -> (status, content type, body)
Handler = Callable[[str, list[str], dict[str, str]], Awaitable[tuple[int, str, bytes]]]

_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class HttpServer:
    def __init__(self, handler: Handler, host: str, port: int) -> None:
        self._handler = handler
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        method = "GET"
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
            request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            method, target, _ = request_line.split(" ", 2)
            url = urlsplit(target)
            parts = [unquote(p) for p in url.path.split("/") if p]
            params = dict(parse_qsl(url.query))
            if method not in ("GET", "HEAD"):
                status, ctype, body = 405, "application/json", b'{"error":"use GET"}'
            else:
                status, ctype, body = await self._handler(method, parts, params)
        except (
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            TimeoutError,
            ConnectionError,
        ):
            writer.close()
            return
        except ValueError:
            status, ctype, body = 400, "application/json", b'{"error":"bad request line"}'
        except Exception:  # a bug in a handler answers 500; the worker keeps running
            log.exception("HTTP handler failed")
            status, ctype, body = 500, "application/json", b'{"error":"internal error"}'
        reason = _REASONS.get(status, "OK")
        writer.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        )
        if method != "HEAD":
            writer.write(body)
        try:
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
