package io.streamzkit.oracle;

import static io.streamzkit.oracle.Scenarios.L;
import static io.streamzkit.oracle.Scenarios.S;
import static io.streamzkit.oracle.Scenarios.kv;
import static io.streamzkit.oracle.Scenarios.longs;
import static io.streamzkit.oracle.Scenarios.outString;

import java.time.Duration;
import java.util.Map;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.GlobalKTable;
import org.apache.kafka.streams.kstream.JoinWindows;
import org.apache.kafka.streams.kstream.Joined;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.KeyValueMapper;
import org.apache.kafka.streams.kstream.StreamJoined;

/** Stream-stream (windowed), stream-table, stream-global-table and table-table joins. */
final class JoinScenarios {
    private JoinScenarios() {}

    static JoinWindows windows(Params p) {
        return JoinWindows.ofTimeDifferenceAndGrace(
            Duration.ofMillis(p.l("diff", 10)), Duration.ofMillis(p.l("grace", 5)));
    }

    static KTable<String, Long> table(StreamsBuilder b, String topic, String store) {
        return b.table(topic, Consumed.with(S, L), kv(store, L));
    }

    static GlobalKTable<String, Long> global(StreamsBuilder b) {
        return b.globalTable("right", Consumed.with(S, L), kv("g", L));
    }

    /** The global join's key mapper: the record's own key for a null value or v % 3 == 0,
     * else "a", "b" or "c" by v % 3. */
    static final KeyValueMapper<String, Long, String> GLOBAL_KEY =
        (k, v) -> v == null || v % 3 == 0 ? k : String.valueOf((char) ('a' + v % 3));

    static void register(Map<String, Scenarios.Scenario> m) {
        StreamJoined<String, Long, Long> sj = StreamJoined.with(S, L, L);
        m.put("ss_inner_join", (b, p) -> {
            KStream<String, Long> l = longs(b, "left");
            l.join(longs(b, "right"), Scenarios::joined, windows(p), sj).to("out", outString());
        });
        m.put("ss_left_join", (b, p) -> {
            KStream<String, Long> l = longs(b, "left");
            l.leftJoin(longs(b, "right"), Scenarios::joined, windows(p), sj).to("out", outString());
        });
        m.put("ss_outer_join", (b, p) -> {
            KStream<String, Long> l = longs(b, "left");
            l.outerJoin(longs(b, "right"), Scenarios::joined, windows(p), sj).to("out", outString());
        });
        m.put("stream_table_join", (b, p) ->
            longs(b, "left").join(table(b, "right", "rt"), Scenarios::joined, Joined.with(S, L, L))
                .to("out", outString()));
        m.put("stream_table_left_join", (b, p) ->
            longs(b, "left").leftJoin(table(b, "right", "rt"), Scenarios::joined,
                Joined.with(S, L, L)).to("out", outString()));
        m.put("stream_global_join", (b, p) ->
            longs(b, "left").join(global(b), GLOBAL_KEY, Scenarios::joined)
                .to("out", outString()));
        m.put("stream_global_left_join", (b, p) ->
            longs(b, "left").leftJoin(global(b), GLOBAL_KEY, Scenarios::joined)
                .to("out", outString()));
        m.put("tt_inner_join", (b, p) ->
            table(b, "left", "lt").join(table(b, "right", "rt"), Scenarios::joined, kv("j", S))
                .toStream().to("out", outString()));
        m.put("tt_left_join", (b, p) ->
            table(b, "left", "lt").leftJoin(table(b, "right", "rt"), Scenarios::joined, kv("j", S))
                .toStream().to("out", outString()));
        m.put("tt_outer_join", (b, p) ->
            table(b, "left", "lt").outerJoin(table(b, "right", "rt"), Scenarios::joined, kv("j", S))
                .toStream().to("out", outString()));
        m.put("left_join_after_select_key", (b, p) ->
            longs(b, "left")
                .selectKey((k, v) -> v == null || v % 4 == 0 ? null : String.valueOf((char) ('a' + v % 3)))
                .leftJoin(table(b, "right", "rt"), Scenarios::joined, Joined.with(S, L, L))
                .to("out", outString()));
    }
}
