package io.streamzkit.oracle;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.FileReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.state.BuiltInDslStoreSuppliers;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.ValueAndTimestamp;
import org.apache.kafka.streams.test.TestRecord;

/**
 * Runs oracle cases through Kafka Streams' own TopologyTestDriver.
 *
 * <p>Input: one JSON object per line (from the file named by the first argument, or stdin):
 * {"id", "scenario", "params", "inputs": {topic: serde}, "outputs": {topic: serde},
 * "stores": {name: "kv" | "window" | "session"}, "cache_bytes", "wall_clock_start",
 * "store" ("rocksdb", the default, or "memory": the DSL's default store type),
 * "steps": [{"t": topic, "k": key, "v": value, "ts": ms, "h": [[name, value]]} | {"advance": ms}]}.
 * Keys are strings; serdes are "long", "string" or "json".
 *
 * <p>Output: one JSON object per case, in input order, flushed after each case (so a caller
 * can talk to one long-lived JVM line by line): {"id", "outputs": [[step, topic, key, value,
 * ts, headers]], "stores": {name: [[key, value] | [key, start, end, value]]}, "error"}.
 */
public final class Main {
    static final ObjectMapper JSON = new ObjectMapper();
    /** This JVM's own state directory (the driver's default, /tmp/kafka-streams, is shared
     * by every process on the machine). */
    static Path stateDir;

    private Main() {}

    public static void main(String[] args) throws IOException {
        stateDir = Files.createTempDirectory("kstreams-oracle-");
        try {
            serve(args);
        } finally {
            deleteTree(stateDir);
        }
    }

    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (var paths = Files.walk(root)) {
            for (Path p : (Iterable<Path>) paths.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }

    static void serve(String[] args) throws IOException {
        BufferedReader in = args.length > 0
            ? new BufferedReader(new FileReader(args[0], StandardCharsets.UTF_8))
            : new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isBlank()) {
                continue;
            }
            JsonNode c = JSON.readTree(line);
            out.println(JSON.writeValueAsString(runCase(c)));
            out.flush();
        }
    }

    static ObjectNode runCase(JsonNode c) {
        ObjectNode result = JSON.createObjectNode();
        result.set("id", c.get("id"));
        ArrayNode outputs = result.putArray("outputs");
        ObjectNode stores = result.putObject("stores");
        result.putNull("error");
        String scenario = c.path("scenario").asText();
        Params params = new Params(c.path("params"));
        StreamsBuilder builder = new StreamsBuilder();
        Topology topology;
        try {
            Scenarios.build(scenario, builder, params);
            topology = builder.build();
        } catch (RuntimeException e) {
            result.put("error", "build: " + describe(e));
            return result;
        }
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "oracle");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "dummy:1234");
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        props.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        props.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.LongSerde.class);
        props.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, c.path("cache_bytes").asLong(0));
        // Emit-on-window-close checks for closed windows on every record, as streamz_kit does
        // (Kafka's default throttles the check to once per wall-clock second).
        props.put("__emit.interval.ms.kstreams__", 0L);
        if ("memory".equals(c.path("store").asText("rocksdb"))) {
            props.put(StreamsConfig.DSL_STORE_SUPPLIERS_CLASS_CONFIG,
                BuiltInDslStoreSuppliers.InMemoryDslStoreSuppliers.class);
        }
        Instant start = Instant.ofEpochMilli(c.path("wall_clock_start").asLong(0));
        int step = -1;
        try (TopologyTestDriver driver = new TopologyTestDriver(topology, props, start)) {
            Map<String, TestInputTopic<String, Object>> inputs = new LinkedHashMap<>();
            Iterator<Map.Entry<String, JsonNode>> it = c.path("inputs").fields();
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> e = it.next();
                Serde<Object> serde = Values.serde(e.getValue().asText());
                inputs.put(e.getKey(), driver.createInputTopic(
                    e.getKey(), Serdes.String().serializer(), serde.serializer()));
            }
            Map<String, TestOutputTopic<String, Object>> outs = new LinkedHashMap<>();
            it = c.path("outputs").fields();
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> e = it.next();
                Serde<Object> serde = Values.serde(e.getValue().asText());
                outs.put(e.getKey(), driver.createOutputTopic(
                    e.getKey(), Serdes.String().deserializer(), serde.deserializer()));
            }
            for (JsonNode s : c.path("steps")) {
                step++;
                if (s.has("advance")) {
                    driver.advanceWallClockTime(Duration.ofMillis(s.get("advance").asLong()));
                } else {
                    String topic = s.get("t").asText();
                    String serdeName = c.path("inputs").path(topic).asText();
                    RecordHeaders headers = new RecordHeaders();
                    for (JsonNode h : s.path("h")) {
                        headers.add(h.get(0).asText(), h.get(1).asText().getBytes(StandardCharsets.UTF_8));
                    }
                    JsonNode k = s.path("k");
                    String key = k.isNull() || k.isMissingNode() ? null : k.asText();
                    Object value = Values.fromJson(serdeName, s.path("v"));
                    inputs.get(topic).pipeInput(
                        new TestRecord<>(key, value, headers, s.get("ts").asLong()));
                }
                for (Map.Entry<String, TestOutputTopic<String, Object>> e : outs.entrySet()) {
                    for (TestRecord<String, Object> r : e.getValue().readRecordsToList()) {
                        ArrayNode row = outputs.addArray();
                        row.add(step);
                        row.add(e.getKey());
                        row.add(r.key());
                        row.add(JSON.valueToTree(r.value()));
                        row.add(r.timestamp());
                        ArrayNode hs = row.addArray();
                        for (Header h : r.headers()) {
                            hs.addArray().add(h.key()).add(
                                h.value() == null ? null : new String(h.value(), StandardCharsets.UTF_8));
                        }
                    }
                }
            }
            step = -2;
            Iterator<Map.Entry<String, JsonNode>> st = c.path("stores").fields();
            while (st.hasNext()) {
                Map.Entry<String, JsonNode> e = st.next();
                stores.set(e.getKey(), dumpStore(driver, e.getKey(), e.getValue().asText()));
            }
        } catch (RuntimeException e) {
            result.put("error", (step == -2 ? "stores: " : "step " + step + ": ") + describe(e));
        }
        return result;
    }

    @SuppressWarnings("unchecked")
    static ArrayNode dumpStore(TopologyTestDriver driver, String name, String kind) {
        ArrayNode rows = JSON.createArrayNode();
        switch (kind) {
            case "kv": {
                var store = driver.<Object, Object>getKeyValueStore(name);
                try (KeyValueIterator<Object, Object> it = store.all()) {
                    while (it.hasNext()) {
                        KeyValue<Object, Object> kv = it.next();
                        Object v = kv.value instanceof ValueAndTimestamp
                            ? ((ValueAndTimestamp<Object>) kv.value).value() : kv.value;
                        rows.addArray().add(JSON.valueToTree(kv.key)).add(JSON.valueToTree(v));
                    }
                }
                break;
            }
            case "window": {
                var store = driver.<Object, Object>getWindowStore(name);
                try (KeyValueIterator<Windowed<Object>, Object> it = store.all()) {
                    while (it.hasNext()) {
                        KeyValue<Windowed<Object>, Object> kv = it.next();
                        Object v = kv.value instanceof ValueAndTimestamp
                            ? ((ValueAndTimestamp<Object>) kv.value).value() : kv.value;
                        rows.addArray().add(JSON.valueToTree(kv.key.key()))
                            .add(kv.key.window().start()).add(kv.key.window().end())
                            .add(JSON.valueToTree(v));
                    }
                }
                break;
            }
            case "session": {
                var store = driver.<Object, Object>getSessionStore(name);
                try (KeyValueIterator<Windowed<Object>, Object> it = store.fetch(null, null)) {
                    while (it.hasNext()) {
                        KeyValue<Windowed<Object>, Object> kv = it.next();
                        rows.addArray().add(JSON.valueToTree(kv.key.key()))
                            .add(kv.key.window().start()).add(kv.key.window().end())
                            .add(JSON.valueToTree(kv.value));
                    }
                }
                break;
            }
            default:
                throw new IllegalArgumentException("unknown store kind " + kind);
        }
        return rows;
    }

    static String describe(Throwable e) {
        StringBuilder sb = new StringBuilder();
        Throwable t = e;
        while (t != null) {
            if (sb.length() > 0) {
                sb.append(" <- ");
            }
            sb.append(t.getClass().getSimpleName()).append(": ").append(t.getMessage());
            t = t.getCause();
        }
        return sb.toString();
    }
}
