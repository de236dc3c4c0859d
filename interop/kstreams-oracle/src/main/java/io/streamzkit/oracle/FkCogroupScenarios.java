package io.streamzkit.oracle;

import static io.streamzkit.oracle.Scenarios.L;
import static io.streamzkit.oracle.Scenarios.S;
import static io.streamzkit.oracle.Scenarios.flat;
import static io.streamzkit.oracle.Scenarios.kv;
import static io.streamzkit.oracle.Scenarios.longs;
import static io.streamzkit.oracle.Scenarios.outLong;
import static io.streamzkit.oracle.Scenarios.outString;
import static io.streamzkit.oracle.Scenarios.ses;
import static io.streamzkit.oracle.Scenarios.win;

import java.time.Duration;
import java.util.Map;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Aggregator;
import org.apache.kafka.streams.kstream.CogroupedKStream;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KGroupedStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.SessionWindows;
import org.apache.kafka.streams.kstream.SlidingWindows;
import org.apache.kafka.streams.kstream.TimeWindows;

/** Foreign-key table joins (KIP-213) and cogrouped aggregations (KIP-150). */
final class FkCogroupScenarios {
    private FkCogroupScenarios() {}

    /** The left row's foreign key: none for v % 4 == 0, else "a", "b" or "c" by v % 3. */
    static String fk(Long v) {
        return v % 4 == 0 ? null : String.valueOf((char) ('a' + v % 3));
    }

    static KTable<String, Long> table(StreamsBuilder b, String topic, String store) {
        return b.table(topic, Consumed.with(S, L), kv(store, L));
    }

    /** Aggregators a null value reaches in window aggregations (Kafka passes it on). */
    static final Aggregator<String, Long, Long> ADD = (k, v, agg) -> agg + (v == null ? 0 : v);
    static final Aggregator<String, Long, Long> DOUBLE_ADD =
        (k, v, agg) -> agg * 2 + (v == null ? 0 : v);

    static KGroupedStream<String, Long> byKey(StreamsBuilder b, String topic) {
        return longs(b, topic).groupByKey(Grouped.with(S, L));
    }

    static CogroupedKStream<String, Long> cogrouped(StreamsBuilder b) {
        return byKey(b, "left").cogroup(ADD).cogroup(byKey(b, "right"), DOUBLE_ADD);
    }

    static Duration ms(long v) {
        return Duration.ofMillis(v);
    }

    static void register(Map<String, Scenarios.Scenario> m) {
        m.put("fk_inner_join", (b, p) ->
            table(b, "left", "lt").join(table(b, "right", "rt"), FkCogroupScenarios::fk,
                Scenarios::joined, kv("fkj", S)).toStream().to("out", outString()));
        m.put("fk_left_join", (b, p) ->
            table(b, "left", "lt").leftJoin(table(b, "right", "rt"), FkCogroupScenarios::fk,
                Scenarios::joined, kv("fkj", S)).toStream().to("out", outString()));
        m.put("fk_inner_join_unmaterialized", (b, p) ->
            table(b, "left", "lt").join(table(b, "right", "rt"), FkCogroupScenarios::fk,
                Scenarios::joined).toStream().to("out", outString()));
        m.put("cogroup_aggregate", (b, p) ->
            cogrouped(b).aggregate(() -> 0L, kv("cg", L)).toStream().to("out", outLong()));
        m.put("cogroup_rekeyed", (b, p) ->
            longs(b, "left")
                .groupBy((k, v) -> v == null ? null : String.valueOf((char) ('a' + v % 3)),
                    Grouped.with(S, L))
                .cogroup(ADD).cogroup(byKey(b, "right"), DOUBLE_ADD)
                .aggregate(() -> 0L, kv("cg", L)).toStream().to("out", outLong()));
        m.put("cogroup_tumbling", (b, p) ->
            flat(cogrouped(b).windowedBy(
                    TimeWindows.ofSizeAndGrace(ms(p.l("size", 10)), ms(p.l("grace", 5))))
                .aggregate(() -> 0L, win("cgw", L)).toStream()).to("out", outLong()));
        m.put("cogroup_sliding", (b, p) ->
            flat(cogrouped(b).windowedBy(
                    SlidingWindows.ofTimeDifferenceAndGrace(ms(p.l("diff", 10)),
                        ms(p.l("grace", 5))))
                .aggregate(() -> 0L, win("cgsl", L)).toStream()).to("out", outLong()));
        m.put("cogroup_session", (b, p) ->
            flat(cogrouped(b).windowedBy(
                    SessionWindows.ofInactivityGapAndGrace(ms(p.l("gap", 5)), ms(p.l("grace", 5))))
                .aggregate(() -> 0L, (k, a1, a2) -> a1 + a2, ses("cgs", L)).toStream())
                .to("out", outLong()));
    }
}
