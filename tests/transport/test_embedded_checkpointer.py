"""The embedded log's WAL checkpoints run in a thread of each open database
(transport/embedded/checkpointer.py), not inside a client's write: committed pages reach
the database file while the clients only append, and closing the transport ends the thread.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

from streamz_kit.transport import ProducerRecord, TopicPartition, TopicSpec, connect
from streamz_kit.transport.embedded.checkpointer import BACKSTOP_PAGES
from streamz_kit.transport.embedded.db import DB_NAME

PAGE = 16_384


def _threads(db_path: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.endswith(db_path)]


def test_committed_pages_reach_the_database_file_without_a_client_checkpoint(
    tmp_path: Path,
) -> None:
    path = tmp_path / "log"
    db_path = str(path / DB_NAME)
    written = 4 << 20  # far below the clients' backstop: only the thread copies these

    async def go() -> tuple[int, int, int]:
        transport = connect(f"embedded://{path}")
        await transport.start()
        try:
            await transport.admin().create_topics([TopicSpec("t", 1)])
            producer = transport.producer()
            value = os.urandom(1000)  # incompressible, not that SQLite compresses
            for batch in range(written // (1000 * 500)):
                for i in range(500):
                    producer.send(ProducerRecord("t", 0, b"k", value, batch * 500 + i))
                await producer.flush()
            assert len(_threads(db_path)) == 1
            deadline = time.monotonic() + 20
            while os.path.getsize(db_path) < written:
                assert time.monotonic() < deadline, "no checkpoint copied the log's pages"
                await asyncio.sleep(0.05)
            consumer = transport.consumer(group_id=None)
            consumer.assign([TopicPartition("t", 0)])
            consumer.seek(TopicPartition("t", 0), 0)
            read = 0
            while True:
                batch_ = await consumer.poll(timeout_ms=100, max_records=100_000)
                if not batch_:
                    break
                read += sum(len(r) for r in batch_.values())
            await consumer.close()
            return os.path.getsize(db_path), read, written // (1000 * 500) * 500
        finally:
            await transport.close()

    size, read, sent = asyncio.run(go())
    assert size >= written and written < BACKSTOP_PAGES * PAGE
    assert read == sent  # every record still there, read back after the checkpoints
    assert _threads(db_path) == []  # closed with the transport
