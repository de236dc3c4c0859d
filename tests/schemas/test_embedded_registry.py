"""The embedded registry: state kept in the `_schemas` topic, ids stable across restarts and
shared between processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from streamz_kit import SchemaRegistry
from streamz_kit.schemas import Schema, SchemaNotFoundError, SubjectNotFoundError
from streamz_kit.schemas.embedded import TOPIC, EmbeddedRegistry
from streamz_kit.transport.embedded.log import Log


def user(*extra: str) -> str:
    fields = [{"name": "a", "type": "string"}]
    fields += [{"name": n, "type": ["null", "string"], "default": None} for n in extra]
    return json.dumps({"type": "record", "name": "U", "fields": fields})


def test_ids_survive_a_restart_and_live_in_the_schemas_topic(tmp_path: Path) -> None:
    first = EmbeddedRegistry(str(tmp_path))
    ids = [
        first.register("a-value", Schema(user())).schema_id,
        first.register("a-value", Schema(user("x"))).schema_id,
        first.register("b-value", Schema(user())).schema_id,
    ]
    first.set_compatibility("b-value", "FULL")
    first.delete_version("a-value", 1, permanent=False)
    first.close()
    assert ids == [1, 2, 1]  # one schema, one id, whichever subject
    again = EmbeddedRegistry(str(tmp_path))
    assert again.schema_by_id(2).schema_str == user("x")
    assert again.list_versions("a-value") == [2]
    assert again.list_versions("a-value", deleted=True) == [1, 2]
    assert again.compatibility("b-value") == "FULL"
    assert again.register("c-value", Schema(user("y"))).schema_id == 3
    info = Log(str(tmp_path)).topic(TOPIC)
    assert info is not None and info.compacted and info.partitions == 1


def test_two_processes_never_hand_out_the_same_id(tmp_path: Path) -> None:
    script = (
        "import sys, json; from streamz_kit.schemas.embedded import EmbeddedRegistry;"
        "from streamz_kit.schemas import Schema; r = EmbeddedRegistry(sys.argv[1]);"
        "print(json.dumps([r.register(f'{sys.argv[2]}-{i}', Schema(json.dumps("
        "{'type': 'record', 'name': f'{sys.argv[2]}{i}', 'fields': []}))).schema_id "
        "for i in range(15)]))"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path), tag], stdout=subprocess.PIPE, text=True
        )
        for tag in ("p", "q")
    ]
    results = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    all_ids = results[0] + results[1]
    assert sorted(all_ids) == list(range(1, 31))
    fresh = EmbeddedRegistry(str(tmp_path))
    assert {fresh.version(f"p-{i}", "latest").schema_id for i in range(15)} == set(results[0])


def test_client_errors_name_what_is_missing(tmp_path: Path) -> None:
    reg = SchemaRegistry(f"embedded://{tmp_path}")
    with pytest.raises(SubjectNotFoundError, match="Subject 'nope-value' not found") as info:
        reg.get_latest_version("nope-value")
    assert info.value.error_code == 40401
    with pytest.raises(SchemaNotFoundError, match="Schema 99 not found"):
        reg.get_schema(99)
    reg.register("s-value", user())
    with pytest.raises(SchemaNotFoundError):
        reg.lookup("s-value", user("other"))
    assert reg.delete_subject("s-value") == [1]
    assert reg.get_subjects() == []
    assert reg.get_schema(1).schema_str == user()  # ids outlive soft deletes


def test_async_paths(tmp_path: Path) -> None:
    import asyncio

    reg = SchemaRegistry(f"embedded://{tmp_path}")

    async def go() -> None:
        sid = await reg.register_async("z-value", user())
        assert (await reg.get_schema_async(sid)).schema_str == user()
        assert (await reg.get_latest_version_async("z-value")).version == 1
        assert await reg.test_compatibility_async("z-value", user("n")) == []

    asyncio.run(go())


def test_http_client_retries_then_says_the_registry_is_down() -> None:
    import socket

    from streamz_kit.schemas import RegistryUnavailableError

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    reg = SchemaRegistry(f"http://127.0.0.1:{port}", max_retries=2, retry_backoff_ms=1)
    with pytest.raises(RegistryUnavailableError, match="after 3 attempts"):
        reg.get_schema(1)


def test_http_client_basic_auth_and_async(tmp_path: Path) -> None:
    import asyncio

    from confluent_kafka.schema_registry import SchemaRegistryClient

    from streamz_kit.schemas import RegistryError
    from streamz_kit.schemas.server import RegistryServer

    with RegistryServer(
        EmbeddedRegistry(str(tmp_path)), port=0, basic_auth=("user", "secret")
    ) as server:
        host = server.url.split("://")[1]
        with pytest.raises(RegistryError, match="Unauthorized"):
            SchemaRegistry(server.url).get_subjects()
        reg = SchemaRegistry(f"http://user:secret@{host}")
        assert reg.url == server.url
        sid = asyncio.run(reg.register_async("auth-value", user()))
        assert reg.get_schema(sid).schema_str == user()
        theirs = SchemaRegistryClient({"url": server.url, "basic.auth.user.info": "user:secret"})
        assert theirs.get_subjects() == ["auth-value"]


def test_registry_cli_refuses_a_kafka_broker() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "streamz_kit",
            "registry",
            "--broker",
            "kafka://localhost:9092",
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 1 and "must be embedded://PATH" in out.stderr


def self_signed(tmp: Path) -> tuple[str, str]:
    """A certificate for 127.0.0.1 and its key, as PEM files (cryptography comes with
    confluent-kafka's registry extra)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


def test_https_with_a_ca_bundle_and_refused_without(tmp_path: Path) -> None:
    from streamz_kit.schemas import RegistryUnavailableError
    from streamz_kit.schemas.server import RegistryServer

    cert, key = self_signed(tmp_path)
    with RegistryServer(EmbeddedRegistry(str(tmp_path / "log")), port=0, tls=(cert, key)) as server:
        assert server.url.startswith("https://")
        reg = SchemaRegistry(server.url, verify=cert)
        sid = reg.register("tls-value", user())
        assert reg.get_schema(sid).schema_str == user()
        untrusted = SchemaRegistry(server.url, max_retries=0)
        with pytest.raises(RegistryUnavailableError, match="CERTIFICATE_VERIFY_FAILED"):
            untrusted.get_subjects()
