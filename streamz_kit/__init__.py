"""streamz_kit: the Kafka Streams model in Python."""
