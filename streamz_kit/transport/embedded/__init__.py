"""The embedded broker: the default transport, a durable partitioned log on local disk.

`embedded://PATH` keeps everything under PATH (created 0700 if missing):

- `log.db` (+ `-wal`, `-shm`): one SQLite database in WAL mode holding topics, records,
  next offsets, group offsets and transactional producer epochs (see `db.py` for why
  SQLite and why `synchronous=NORMAL` survives kill -9 without losing a commit);
- `groups/<group>.lock`: one flock per consumer group; the embedded broker has one member
  per group, so a second worker of an application is refused with BrokerLockedError, except
  for the workers of `run --workers N`, which share the group by leases (`leases.py`).

Several processes may share the log at once (a worker, a generator producing into it, a
viewer consuming from it). Exactly-once holds by construction: a transaction's records and
its group offsets are written in one SQLite transaction, so uncommitted records are never
visible. Scaling out over several machines is Kafka's job.
"""

from streamz_kit.transport.embedded.admin import EmbeddedAdmin
from streamz_kit.transport.embedded.consumer import EmbeddedConsumer
from streamz_kit.transport.embedded.producer import EmbeddedProducer
from streamz_kit.transport.embedded.transport import EmbeddedTransport

__all__ = ["EmbeddedAdmin", "EmbeddedConsumer", "EmbeddedProducer", "EmbeddedTransport"]
