package io.streamzkit.oracle;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

/** The value serdes a case may name: "long", "string" and "json" (Jackson trees). */
final class Values {
    private Values() {}

    static final Serde<JsonNode> JSON_SERDE = Serdes.serdeFrom(
        (Serializer<JsonNode>) (topic, data) -> {
            if (data == null) {
                return null;
            }
            try {
                return Main.JSON.writeValueAsBytes(data);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        },
        (Deserializer<JsonNode>) (topic, data) -> {
            if (data == null) {
                return null;
            }
            try {
                return Main.JSON.readTree(data);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });

    @SuppressWarnings({"unchecked", "rawtypes"})
    static Serde<Object> serde(String name) {
        switch (name) {
            case "long": return (Serde) Serdes.Long();
            case "string": return (Serde) Serdes.String();
            case "json": return (Serde) JSON_SERDE;
            default: throw new IllegalArgumentException("unknown serde " + name);
        }
    }

    static Object fromJson(String serde, JsonNode v) {
        if (v == null || v.isNull() || v.isMissingNode()) {
            return null;
        }
        switch (serde) {
            case "long": return v.asLong();
            case "string": return v.asText();
            case "json": return v;
            default: throw new IllegalArgumentException("unknown serde " + serde);
        }
    }
}
