"""`streamz-kit topics`: create with configs, alter them, list offsets, sizes and configs;
a bad setting is one `Error:` sentence naming it, exit code 1, and changes nothing."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from streamz_kit.cli import main


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["topics", *args])
    return result.exit_code, result.output


def test_create_alter_and_list_with_retention_configs(tmp_path: Path) -> None:
    broker = f"embedded://{tmp_path / 'b'}"
    code, out = _run(
        "--broker",
        broker,
        "--create",
        "clicks",
        "--partitions",
        "2",
        "--config",
        "retention.ms=86400000",
    )
    assert code == 0, out
    code, out = _run("--broker", broker, "--create", "bad", "--config", "retention.ms=1d")
    assert code == 1 and out.count("\n") == 1
    assert out.startswith("Error: Topic 'bad': retention.ms must be a whole number")
    code, out = _run("--broker", broker, "--alter", "clicks", "--config", "retention.bytes=-3")
    assert code == 1 and "retention.bytes must be at least -1" in out
    code, out = _run(
        "--broker",
        broker,
        "--alter",
        "clicks",
        "--config",
        "retention.bytes=5000",
        "--config",
        "cleanup.policy=compact,delete",
    )
    assert code == 0, out
    code, out = _run("--broker", broker)
    assert code == 0, out
    [line] = out.splitlines()  # "bad" was never created
    assert line.startswith("clicks\tpartitions=2\tend_offsets=[0, 0]\trecords~0\t")
    assert "start_offsets=[0, 0]\tbytes=[0, 0]\tsize=0 B" in line
    assert line.endswith(
        "config: cleanup.policy=compact,delete retention.bytes=5000 retention.ms=86400000"
    )
    code, out = _run("--broker", broker, "--alter", "clicks", "--delete-config", "retention.bytes")
    assert code == 0, out
    assert "retention.bytes" not in _run("--broker", broker)[1]
    code, out = _run("--broker", broker, "--alter", "nope", "--config", "retention.ms=1")
    assert code == 1 and "'nope' does not exist" in out
    code, out = _run("--broker", broker, "--config", "retention.ms=1")
    assert code == 1 and "--create TOPIC or --alter TOPIC" in out
