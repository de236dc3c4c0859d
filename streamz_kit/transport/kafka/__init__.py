"""The Kafka adapter of the transport port, on aiokafka."""

from streamz_kit.transport.kafka.transport import KafkaTransport

__all__ = ["KafkaTransport"]
