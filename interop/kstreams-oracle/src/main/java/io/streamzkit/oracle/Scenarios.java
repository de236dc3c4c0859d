package io.streamzkit.oracle;

import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.processor.StateStore;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.SessionStore;
import org.apache.kafka.streams.state.WindowStore;

/**
 * The registry of scenarios. Each one is a small topology, written again in Python in
 * tests/oracle/scenarios/ from the same name and parameters; the two must stay identical.
 */
final class Scenarios {
    /** Builds one scenario's topology from its parameters. */
    interface Scenario {
        void build(StreamsBuilder b, Params p);
    }

    private static final Map<String, Scenario> ALL = new HashMap<>();

    static {
        StatelessScenarios.register(ALL);
        AggregateScenarios.register(ALL);
        WindowScenarios.register(ALL);
        JoinScenarios.register(ALL);
        ProcessorScenarios.register(ALL);
        FkCogroupScenarios.register(ALL);
        DslMoreScenarios.register(ALL);
        SemanticsScenarios.register(ALL);
    }

    private Scenarios() {}

    static void build(String name, StreamsBuilder b, Params p) {
        Scenario s = ALL.get(name);
        if (s == null) {
            throw new IllegalArgumentException("no scenario named " + name);
        }
        s.build(b, p);
    }

    // -- shared helpers -------------------------------------------------------------------

    static final Serde<String> S = Serdes.String();
    static final Serde<Long> L = Serdes.Long();

    static KStream<String, Long> longs(StreamsBuilder b, String topic) {
        return b.stream(topic, Consumed.with(S, L));
    }

    static Produced<String, Long> outLong() {
        return Produced.with(S, L);
    }

    static Produced<String, String> outString() {
        return Produced.with(S, S);
    }

    static <V> Materialized<String, V, KeyValueStore<Bytes, byte[]>> kv(String name, Serde<V> v) {
        return Materialized.<String, V, KeyValueStore<Bytes, byte[]>>as(name)
            .withKeySerde(S).withValueSerde(v);
    }

    static <V> Materialized<String, V, WindowStore<Bytes, byte[]>> win(String name, Serde<V> v) {
        return Materialized.<String, V, WindowStore<Bytes, byte[]>>as(name)
            .withKeySerde(S).withValueSerde(v);
    }

    static <V> Materialized<String, V, SessionStore<Bytes, byte[]>> ses(String name, Serde<V> v) {
        return Materialized.<String, V, SessionStore<Bytes, byte[]>>as(name)
            .withKeySerde(S).withValueSerde(v);
    }

    /** A windowed key as the string both sides print: key@start/end. */
    static <V> KStream<String, V> flat(KStream<Windowed<String>, V> s) {
        return s.map((wk, v) -> KeyValue.pair(
            wk.key() + "@" + wk.window().start() + "/" + wk.window().end(), v));
    }

    /** Joiner output both sides print: left/right, with "null" for a missing side. */
    static String joined(Object l, Object r) {
        return l + "/" + r;
    }

    @SuppressWarnings("unused")
    private static Class<StateStore> unused() {
        return StateStore.class;
    }
}
