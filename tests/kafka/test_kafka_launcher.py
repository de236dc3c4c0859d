"""The Kafka launcher's failures are one sentence naming the cause and the log file."""

from __future__ import annotations

import shutil
import socket

import pytest

from interop.kafka_broker import KafkaBroker, KafkaBrokerError


def test_no_java_is_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    broker = KafkaBroker()
    try:
        with pytest.raises(KafkaBrokerError, match="No Java runtime was found"):
            broker.start()
    finally:
        broker.stop()


def test_a_port_held_by_another_process_is_named_with_the_log(kafka_bootstrap: str) -> None:
    # kafka_bootstrap: the jars are built already (the session broker), so this only pays a
    # storage format and a JVM that fails to bind.
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        broker = KafkaBroker(port=port, heap_mb=256)
        try:
            with pytest.raises(KafkaBrokerError) as info:
                broker.start()
        finally:
            broker.stop()
    message = str(info.value)
    assert f"127.0.0.1:{port}" in message and "another process holds the port" in message
    assert str(broker.log_path) in message
    assert broker.log_path.exists()  # kept after a failed start: the message points at it
    shutil.rmtree(broker.work_dir)
