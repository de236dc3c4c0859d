"""`streamz-kit registry`: the embedded registry over Confluent's Schema Registry REST API.

A standard-library threading HTTP server is enough here: registry traffic is a handful of
requests per schema (clients cache by id), so it needs no async framework or new dependency.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

from streamz_kit.schemas.embedded import EmbeddedRegistry
from streamz_kit.schemas.rest import RestApi

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


def _handler_class(api: RestApi, auth: str | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet by default
            pass

        def _serve(self, method: str) -> None:
            if auth is not None and self.headers.get("Authorization") != auth:
                self._reply(
                    401,
                    {"error_code": 401, "message": "Unauthorized"},
                    CONTENT_TYPE,
                    {"WWW-Authenticate": 'Basic realm="schema-registry"'},
                )
                return
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                status, reply = 400, {"error_code": 400, "message": "The body is not JSON"}
            else:
                status, reply = api.handle(method, parts.path, dict(parse_qsl(parts.query)), body)
            if isinstance(reply, str) and parts.path.rstrip("/").endswith("/schema"):
                data, ctype = reply.encode(), "text/plain"
            else:
                data, ctype = json.dumps(reply).encode(), CONTENT_TYPE
            self._reply(status, data, ctype)

        def _reply(
            self, status: int, data: Any, ctype: str, extra: dict[str, str] | None = None
        ) -> None:
            if not isinstance(data, bytes):
                data = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_PUT(self) -> None:
            self._serve("PUT")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

    return Handler


class RegistryServer:
    """Serves `registry` on host:port (port 0 picks a free one; see `.port` and `.url`)."""

    def __init__(
        self,
        registry: EmbeddedRegistry,
        host: str = "127.0.0.1",
        port: int = 8081,
        *,
        basic_auth: tuple[str, str] | None = None,
        tls: tuple[str, str] | None = None,
    ) -> None:
        """`tls=(certfile, keyfile)` serves HTTPS; `basic_auth=(user, password)` is then
        required of every request."""
        self.registry = registry
        auth = None
        if basic_auth is not None:
            import base64

            token = base64.b64encode(f"{basic_auth[0]}:{basic_auth[1]}".encode()).decode()
            auth = f"Basic {token}"
        self.httpd = ThreadingHTTPServer((host, port), _handler_class(RestApi(registry), auth))
        self.scheme = "http"
        if tls is not None:
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            self.scheme = "https"
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.httpd.server_address[0]!s}:{self.port}"

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.2)

    def start(self) -> Self:
        """Serve on a background thread (tests, and Apps that host the registry)."""
        self._thread = threading.Thread(
            target=self.serve_forever, name="schema-registry", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_cli(
    broker: str,
    host: str,
    port: int,
    echo: Any,
    basic_auth: str | None = None,
    tls: tuple[str, str] | None = None,
) -> None:
    """`streamz-kit registry`: serve until interrupted; prints the URL (port 0 resolved)."""
    from streamz_kit.errors import ConfigError

    scheme, sep, path = broker.partition("://")
    if not sep or scheme.lower() != "embedded" or not path:
        raise ConfigError(
            f"`streamz-kit registry` serves the embedded registry, so --broker must be "
            f"embedded://PATH, not {broker!r}; with Kafka, run Confluent's or Karapace's "
            "registry and point SchemaRegistry('http://...') at it."
        )
    from streamz_kit.schemas.registry import embedded_registry

    creds = None
    if basic_auth:
        user, sep, password = basic_auth.partition(":")
        if not sep:
            raise ConfigError("--basic-auth takes USER:PASSWORD.")
        creds = (user, password)
    server = RegistryServer(embedded_registry(path), host, port, basic_auth=creds, tls=tls)
    echo(f"Schema registry for {broker} listening on {server.url}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
