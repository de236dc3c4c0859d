"""`streamz-kit`: run, describe and reset applications; produce, consume and list topics.

Every command turns our errors into one sentence on stderr and a non-zero exit; a bare
traceback means a bug in streamz_kit, not in the user's input.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import click
import orjson

from streamz_kit import serdes as _serdes
from streamz_kit.cli_records import SERDE_NAMES, json_safe, parse_text, render_text
from streamz_kit.cli_topics import topics as _topics_command
from streamz_kit.config import runtime_knobs
from streamz_kit.errors import StreamzError
from streamz_kit.transport import connect
from streamz_kit.transport.partitioner import default_partition
from streamz_kit.transport.port import ProducerRecord, TopicPartition, TopicSpec

DEFAULT_BROKER = "embedded://.streamz"

serde_choice = click.Choice(SERDE_NAMES, case_sensitive=False)


def friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Report StreamzError (and a few OS errors) as one sentence with exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except StreamzError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)
        except (PermissionError, FileNotFoundError, IsADirectoryError) as exc:
            click.echo(f"Error: {exc.strerror}: {exc.filename}", err=True)
            sys.exit(1)
        except UnicodeDecodeError as exc:
            click.echo(
                f"Error: The input is not UTF-8 text ({exc.reason}); give lines of text, "
                "with binary keys or values as base64 and --key-serde/--value-serde bytes.",
                err=True,
            )
            sys.exit(1)
        except KeyboardInterrupt:
            sys.exit(130)

    return wrapper


def setup_logging(level: str, fmt: str) -> None:
    from streamz_kit.logs import configure_logging

    configure_logging(level, fmt)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="streamz_kit")
def main() -> None:
    """streamz_kit: Kafka Streams-style stream processing in Python.

    APP is `path/to/app.py[:name]` or `module:name`, naming an App or a Topology.
    Brokers: `embedded://PATH` (default embedded://.streamz, nothing to install) or
    `kafka://host:9092[,host:9092]`.
    """


# -- run / describe / reset ---------------------------------------------------------------
def _runtime_knob_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """One `run` option per integer runtime setting of AppConfig (--poll-timeout-ms,
    --max-poll-records, --commit-max-records, ...), with the setting's own help text."""
    for name, help_text in reversed(runtime_knobs()):
        flag = "--" + name.replace("_", "-")
        command = click.option(flag, name, type=int, help=f"{help_text} Overrides the App's.")(
            command
        )
    return command


@main.command()
@click.argument("app_spec", metavar="APP")
@click.option("--broker", help="Broker URL; overrides the App's.")
@click.option(
    "--processing-guarantee",
    type=click.Choice(["at_least_once", "exactly_once"]),
    help="Overrides the App's processing guarantee.",
)
@click.option("--state-dir", type=click.Path(file_okay=False), help="Where RocksDB state lives.")
@click.option("--application-id", help="Overrides the App's application id.")
@click.option(
    "--commit-interval-ms",
    type=int,
    help="The most time between two commits (ms); exactly_once on the embedded log also "
    "commits as soon as the worker has caught up with its input.",
)
@click.option("--log-level", default="INFO", show_default=True)
@click.option(
    "--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option("--metrics-port", type=int, help="Serve Prometheus metrics on this port.")
@click.option(
    "--http-port",
    type=int,
    help="Serve interactive queries (/stores, /topology, /status) on this port.",
)
@click.option("--http-host", help="Address the HTTP servers bind to (default 127.0.0.1).")
@click.option(
    "--group-instance-id",
    help="Kafka: static membership id, so a restarted worker keeps its partitions.",
)
@_runtime_knob_options
@friendly
def run(
    app_spec: str,
    broker: str | None,
    processing_guarantee: str | None,
    state_dir: str | None,
    application_id: str | None,
    commit_interval_ms: int | None,
    log_level: str,
    log_format: str,
    metrics_port: int | None,
    http_port: int | None,
    http_host: str | None,
    group_instance_id: str | None,
    **knobs: int | None,
) -> None:
    """Run APP as a worker until SIGINT/SIGTERM (then commit and close cleanly)."""
    from streamz_kit.loader import load_app

    setup_logging(log_level, log_format)
    app = load_app(app_spec, application_id=application_id)
    app.configure(
        broker=broker,
        processing_guarantee=processing_guarantee,
        state_dir=state_dir,
        commit_interval_ms=commit_interval_ms,
        metrics_port=metrics_port,
        http_port=http_port,
        http_host=http_host,
        group_instance_id=group_instance_id,
        **knobs,
    )
    app.run()


@main.command()
@click.argument("app_spec", metavar="APP")
@click.option("--mermaid", is_flag=True, help="Print a Mermaid diagram instead of text.")
@friendly
def describe(app_spec: str, mermaid: bool) -> None:
    """Print APP's topology: sub-topologies, sources, processors, stores, sinks."""
    from streamz_kit.loader import load_app

    app = load_app(app_spec)
    click.echo(app.topology.to_mermaid() if mermaid else app.topology.describe(), nl=False)


@main.command()
@click.argument("app_spec", metavar="APP")
@click.option("--broker", help="Broker URL; overrides the App's.")
@click.option("--state-dir", type=click.Path(file_okay=False), help="Overrides the App's.")
@click.option("--application-id", help="Overrides the App's application id.")
@click.option("--yes", is_flag=True, help="Do it; without --yes only list what would be done.")
@friendly
def reset(
    app_spec: str, broker: str | None, state_dir: str | None, application_id: str | None, yes: bool
) -> None:
    """Make the next run replay the inputs from offset zero and rebuild all state."""
    from streamz_kit.loader import load_app
    from streamz_kit.reset import reset_application

    app = load_app(app_spec, application_id=application_id)
    app.configure(broker=broker, state_dir=state_dir)
    asyncio.run(reset_application(app, execute=yes, echo=click.echo))


@main.command()
@click.argument("app_spec", metavar="APP")
@click.option("--broker", help="Broker URL for the group's offsets; default the App's.")
@click.option("--state-dir", type=click.Path(file_okay=False), help="Overrides the App's.")
@click.option("--application-id", help="Overrides the App's application id.")
@click.option("--http", "http_url", help="Also ask a worker's HTTP server, e.g. http://host:8080.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@friendly
def status(
    app_spec: str,
    broker: str | None,
    state_dir: str | None,
    application_id: str | None,
    http_url: str | None,
    as_json: bool,
) -> None:
    """Show APP's workers, tasks and partitions, lag, state sizes and restoration."""
    from rich.console import Console

    from streamz_kit.loader import load_app
    from streamz_kit.observability.status_view import gather, render

    app = load_app(app_spec, application_id=application_id)
    app.configure(broker=broker, state_dir=state_dir)
    report = gather(app, broker=broker, http=http_url)
    if as_json:
        click.echo(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
        return
    render(report, Console(width=None if sys.stdout.isatty() else 160, soft_wrap=False))


# -- registry -----------------------------------------------------------------------------
@main.command()
@click.option(
    "--broker",
    default=DEFAULT_BROKER,
    show_default=True,
    help="The embedded log whose _schemas topic holds the schemas.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8081, show_default=True, type=int, help="0 picks a free port.")
@click.option(
    "--basic-auth",
    envvar="STREAMZ_REGISTRY_BASIC_AUTH",
    help="USER:PASSWORD every request must present (HTTP basic auth).",
)
@click.option(
    "--tls-cert",
    type=click.Path(exists=True, dir_okay=False),
    help="PEM certificate: serve HTTPS (with --tls-key).",
)
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), help="PEM private key.")
@friendly
def registry(
    broker: str,
    host: str,
    port: int,
    basic_auth: str | None,
    tls_cert: str | None,
    tls_key: str | None,
) -> None:
    """Serve the embedded schema registry over Confluent's Schema Registry REST API."""
    from streamz_kit.schemas.server import serve_cli

    tls = (tls_cert, tls_key or tls_cert) if tls_cert else None
    serve_cli(broker, host, port, click.echo, basic_auth, tls)


# -- topics (cli_topics.py) ----------------------------------------------------------------
_topics_command.callback = friendly(_topics_command.callback)  # type: ignore[arg-type]
main.add_command(_topics_command)


@main.command()
@click.argument("topic")
@click.option("--broker", default=DEFAULT_BROKER, show_default=True)
@click.option("--key-serde", type=serde_choice, default="string", show_default=True)
@click.option("--value-serde", type=serde_choice, default="json", show_default=True)
@click.option(
    "--file",
    "file_",
    type=click.File("r"),
    default="-",
    help="Read lines from a file (default stdin).",
)
@click.option(
    "--partitions",
    type=int,
    default=1,
    show_default=True,
    help="Partitions when the topic has to be created.",
)
@click.option("--timestamp", type=int, help="Record timestamp in ms (default: now).")
@friendly
def produce(
    topic: str,
    broker: str,
    key_serde: str,
    value_serde: str,
    file_: TextIO,
    partitions: int,
    timestamp: int | None,
) -> None:
    """Write records from lines of `key<TAB>value` (a line without a tab is a value only)."""
    asyncio.run(_produce(topic, broker, key_serde, value_serde, file_, partitions, timestamp))


async def _produce(
    topic: str,
    broker: str,
    key_serde: str,
    value_serde: str,
    lines: TextIO,
    partitions: int,
    timestamp: int | None,
) -> None:
    ks, vs = _serdes.by_name(key_serde), _serdes.by_name(value_serde)
    transport = connect(broker)
    await transport.start()
    written = 0
    try:
        admin = transport.admin()
        counts = await admin.partition_counts([topic])
        if topic not in counts:
            if partitions < 1:
                raise StreamzError("--partitions must be at least 1.")
            await admin.create_topics([TopicSpec(topic, partitions)])
            counts = {topic: partitions}
        width = counts[topic]
        producer = transport.producer()
        pending = 0
        for number, raw in enumerate(lines, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            key_text, tab, value_text = line.partition("\t")
            if not tab:
                key_text, value_text = "", line
            try:
                key = parse_text(key_text, key_serde, "key") if key_text else None
                value = parse_text(value_text, value_serde, "value") if value_text else None
                key_bytes = ks.serialize(topic, key)
                value_bytes = vs.serialize(topic, value)
            except StreamzError as exc:
                if pending:
                    await producer.flush()
                    written += pending
                raise StreamzError(
                    f"Line {number} is not a valid record: {exc}. Lines look like "
                    f"`key<TAB>value` with a {key_serde} key and a {value_serde} value "
                    f"(--key-serde / --value-serde). {written} records before it were written."
                ) from None
            ts = timestamp if timestamp is not None else int(time.time() * 1000)
            producer.send(
                ProducerRecord(
                    topic, default_partition(key_bytes, width), key_bytes, value_bytes, ts
                )
            )
            pending += 1
            if pending >= 1000:
                await producer.flush()
                written += pending
                pending = 0
        if pending:
            await producer.flush()
            written += pending
        await producer.close()
    finally:
        await transport.close()
    click.echo(f"Wrote {written} records to {topic}.", err=True)


@main.command()
@click.argument("topic")
@click.option("--broker", default=DEFAULT_BROKER, show_default=True)
@click.option("--group", help="Read from (and commit to) this consumer group's position.")
@click.option("--from-beginning", is_flag=True, help="Start at the earliest offset.")
@click.option("--max-records", type=int, help="Stop after this many records.")
@click.option("--idle-timeout", type=float, help="Stop after this many seconds without records.")
@click.option("--key-serde", type=serde_choice, default="string", show_default=True)
@click.option("--value-serde", type=serde_choice, default="json", show_default=True)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@friendly
def consume(
    topic: str,
    broker: str,
    group: str | None,
    from_beginning: bool,
    max_records: int | None,
    idle_timeout: float | None,
    key_serde: str,
    value_serde: str,
    fmt: str,
) -> None:
    """Print committed records as `key<TAB>value` lines (or JSON objects with --format json)."""
    asyncio.run(
        _consume(
            topic,
            broker,
            group,
            from_beginning,
            max_records,
            idle_timeout,
            key_serde,
            value_serde,
            fmt,
        )
    )


async def _consume(
    topic: str,
    broker: str,
    group: str | None,
    from_beginning: bool,
    max_records: int | None,
    idle_timeout: float | None,
    key_serde: str,
    value_serde: str,
    fmt: str,
) -> None:
    ks, vs = _serdes.by_name(key_serde), _serdes.by_name(value_serde)
    transport = connect(broker)
    await transport.start()
    seen = 0
    out = sys.stdout
    try:
        admin = transport.admin()
        counts = await admin.partition_counts([topic])
        if topic not in counts:
            raise StreamzError(
                f"Topic {topic!r} does not exist on {broker}; `streamz-kit topics` lists the "
                "topics there."
            )
        tps = [TopicPartition(topic, p) for p in range(counts[topic])]
        consumer = transport.consumer(group_id=group, read_committed=True)
        consumer.assign(tps)
        committed = await admin.committed_offsets(group, tps) if group else {}
        starts = await admin.list_offsets(tps, "earliest" if from_beginning else "latest")
        for tp in tps:
            if from_beginning:
                consumer.seek(tp, starts[tp])
            elif tp in committed:
                consumer.seek(tp, committed[tp])
            elif group is None:
                consumer.seek(tp, starts[tp])
        last_data = time.monotonic()
        try:
            while max_records is None or seen < max_records:
                batch = await consumer.poll(timeout_ms=200, max_records=1000)
                got = False
                for records in batch.values():
                    for rec in records:
                        if max_records is not None and seen >= max_records:
                            break
                        got = True
                        seen += 1
                        key = ks.deserialize(topic, rec.key)
                        value = vs.deserialize(topic, rec.value)
                        if fmt == "json":
                            line = orjson.dumps(
                                {
                                    "topic": rec.topic,
                                    "partition": rec.partition,
                                    "offset": rec.offset,
                                    "timestamp": rec.timestamp,
                                    "key": json_safe(key),
                                    "value": json_safe(value),
                                },
                                option=orjson.OPT_NON_STR_KEYS,
                            ).decode()
                        else:
                            line = (
                                f"{render_text(key, key_serde)}\t{render_text(value, value_serde)}"
                            )
                        out.write(line + "\n")
                out.flush()
                if got:
                    last_data = time.monotonic()
                elif idle_timeout is not None and time.monotonic() - last_data >= idle_timeout:
                    break
        finally:
            if group:
                await consumer.commit({tp: consumer.position(tp) for tp in tps})
            await consumer.close()
    except BrokenPipeError:
        pass
    finally:
        await transport.close()


def _entry() -> None:  # pragma: no cover
    main()


logging.getLogger("aiokafka").setLevel(logging.WARNING)
