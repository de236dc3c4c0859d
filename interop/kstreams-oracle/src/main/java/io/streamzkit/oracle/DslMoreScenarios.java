package io.streamzkit.oracle;

import static io.streamzkit.oracle.Scenarios.L;
import static io.streamzkit.oracle.Scenarios.S;
import static io.streamzkit.oracle.Scenarios.flat;
import static io.streamzkit.oracle.Scenarios.joined;
import static io.streamzkit.oracle.Scenarios.kv;
import static io.streamzkit.oracle.Scenarios.longs;
import static io.streamzkit.oracle.Scenarios.outLong;
import static io.streamzkit.oracle.Scenarios.outString;
import static io.streamzkit.oracle.Scenarios.ses;
import static io.streamzkit.oracle.Scenarios.win;

import java.time.Duration;
import java.util.Map;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.EmitStrategy;
import org.apache.kafka.streams.kstream.Joined;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.SessionWindows;
import org.apache.kafka.streams.kstream.SlidingWindows;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.Suppressed.BufferConfig;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;

/** Emit-on-window-close (KIP-825), versioned tables (KIP-889/914/923), suppress until a
 *  time limit, toStream(keyMapper). The cases run with __emit.interval.ms.kstreams__ = 0. */
final class DslMoreScenarios {
    private DslMoreScenarios() {}

    static Duration ms(long v) {
        return Duration.ofMillis(v);
    }

    static TimeWindows tumbling(Params p) {
        return TimeWindows.ofSizeAndGrace(ms(p.l("size", 10)), ms(p.l("grace", 5)));
    }

    static KTable<String, Long> versioned(StreamsBuilder b, String topic, Params p) {
        return b.table(topic, Consumed.with(S, L),
            Materialized.<String, Long>as(Stores.persistentVersionedKeyValueStore(
                "vt", ms(p.l("history", 50)))).withKeySerde(S).withValueSerde(L));
    }

    static KStream<String, Long> present(KStream<String, Long> s) {
        return s.filter((k, v) -> k != null && v != null);
    }

    static void register(Map<String, Scenarios.Scenario> m) {
        m.put("emit_close_tumbling", (b, p) ->
            flat(longs(b, "in").groupByKey().windowedBy(tumbling(p))
                .emitStrategy(EmitStrategy.onWindowClose())
                .count(win("wcounts", L)).toStream()).to("out", outLong()));
        m.put("emit_close_hopping", (b, p) ->
            flat(longs(b, "in").groupByKey()
                .windowedBy(tumbling(p).advanceBy(ms(Math.min(p.l("advance", 5), p.l("size", 10)))))
                .emitStrategy(EmitStrategy.onWindowClose())
                .aggregate(() -> "", (k, v, agg) -> agg + v + ";", win("waggs", S))
                .toStream()).to("out", outString()));
        m.put("emit_close_sliding", (b, p) ->
            flat(present(longs(b, "in")).groupByKey()
                .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(
                    ms(p.l("diff", 10)), ms(p.l("grace", 5))))
                .emitStrategy(EmitStrategy.onWindowClose())
                .aggregate(() -> "", (k, v, agg) -> agg + v + ";", win("slaggs", S))
                .toStream()).to("out", outString()));
        m.put("emit_close_session", (b, p) ->
            flat(longs(b, "in").groupByKey()
                .windowedBy(SessionWindows.ofInactivityGapAndGrace(
                    ms(p.l("gap", 5)), ms(p.l("grace", 5))))
                .emitStrategy(EmitStrategy.onWindowClose())
                .count(ses("scounts", L)).toStream()).to("out", outLong()));
        m.put("versioned_table_source", (b, p) -> {
            KTable<String, Long> t = versioned(b, "in", p);
            t.toStream().to("out", outLong());
            t.filter((k, v) -> v % 2 == 0).toStream().to("even", outLong());
        });
        m.put("versioned_stream_join", (b, p) -> {
            KTable<String, Long> t = versioned(b, "t", p);
            KStream<String, Long> s = present(longs(b, "s"));
            Joined<String, Long, Long> j = Joined.with(S, L, L);
            long grace = Math.min(p.l("grace", 0), p.l("history", 50));
            if (grace > 0) {
                j = j.withGracePeriod(ms(grace));
            }
            (p.b("left", false) ? s.leftJoin(t, Scenarios::joined, j) : s.join(t, Scenarios::joined, j))
                .to("out", outString());
        });
        m.put("versioned_table_table_join", (b, p) -> {
            KTable<String, Long> left = versioned(b, "l", p);
            KTable<String, Long> right = b.table("r", Consumed.with(S, L), kv("rt", L));
            left.join(right, Scenarios::joined).toStream().to("out", outString());
        });
        m.put("suppress_time_limit", (b, p) ->
            longs(b, "in").groupByKey().count(kv("counts", L))
                .suppress(Suppressed.untilTimeLimit(ms(p.l("limit", 10)),
                    p.l("max", 0) > 0 ? BufferConfig.maxRecords(p.l("max", 0))
                                      : BufferConfig.unbounded()))
                .toStream().to("out", outLong()));
        m.put("to_stream_key_mapper", (b, p) ->
            b.table("in", Consumed.with(S, L), kv("t", L))
                .toStream((k, v) -> k + "-" + (v == null ? "gone" : v % 3))
                .to("out", outLong()));
    }

    @SuppressWarnings("unused")
    private static Class<KeyValueStore<Bytes, byte[]>> unused() {
        return null;
    }
}
