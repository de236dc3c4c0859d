"""Seeing a running App: Prometheus metrics, interactive queries over HTTP, status files."""

from streamz_kit.observability.service import Observability
from streamz_kit.observability.status_file import read_statuses

__all__ = ["Observability", "read_statuses"]
