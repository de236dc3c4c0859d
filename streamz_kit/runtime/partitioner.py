"""Moved to `streamz_kit.transport.partitioner` (the partitioner belongs beside the transport);
this alias keeps old imports working until every caller has moved."""

from streamz_kit.transport.partitioner import default_partition, murmur2

__all__ = ["default_partition", "murmur2"]
