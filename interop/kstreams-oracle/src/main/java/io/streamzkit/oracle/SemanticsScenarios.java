package io.streamzkit.oracle;

import static io.streamzkit.oracle.Scenarios.L;
import static io.streamzkit.oracle.Scenarios.S;
import static io.streamzkit.oracle.Scenarios.flat;
import static io.streamzkit.oracle.Scenarios.longs;
import static io.streamzkit.oracle.Scenarios.outLong;
import static io.streamzkit.oracle.Scenarios.outString;
import static io.streamzkit.oracle.Scenarios.ses;
import static io.streamzkit.oracle.Scenarios.win;

import java.time.Duration;
import java.util.Map;
import org.apache.kafka.streams.kstream.JoinWindows;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.SessionWindows;
import org.apache.kafka.streams.kstream.SlidingWindows;
import org.apache.kafka.streams.kstream.StreamJoined;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.Suppressed.BufferConfig;
import org.apache.kafka.streams.kstream.TimeWindows;

/**
 * Issue 14's reported semantics: session merges, observed stream time per processor
 * (a filter upstream of windows, suppress and stream-stream joins), null keys (KIP-962).
 * "Odd" values are removed by the filter, so they still move the task's stream time.
 */
final class SemanticsScenarios {
    private SemanticsScenarios() {}

    static Duration ms(long v) {
        return Duration.ofMillis(v);
    }

    static KStream<String, Long> evens(KStream<String, Long> s) {
        return s.filter((k, v) -> v == null || v % 2 == 0);
    }

    static SessionWindows sessions(Params p) {
        return SessionWindows.ofInactivityGapAndGrace(ms(p.l("gap", 5)), ms(p.l("grace", 5)));
    }

    static JoinWindows joinWindows(Params p) {
        return JoinWindows.ofTimeDifferenceAndGrace(ms(p.l("diff", 5)), ms(p.l("grace", 0)));
    }

    static String rekey(String k, Long v) {
        return v == null || v % 4 == 0 ? null : k;
    }

    static void register(Map<String, Scenarios.Scenario> m) {
        m.put("filter_session_merge", (b, p) ->
            flat(evens(longs(b, "in")).groupByKey().windowedBy(sessions(p))
                .aggregate(() -> "", (k, v, agg) -> agg + v + ";",
                    (k, a1, a2) -> "(" + a1 + "|" + a2 + ")", ses("smerge", S))
                .toStream()).to("out", outString()));
        m.put("filter_sliding_count", (b, p) ->
            flat(evens(longs(b, "in")).groupByKey()
                .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(
                    ms(p.l("diff", 5)), ms(p.l("grace", 0))))
                .count(win("fslcounts", L)).toStream()).to("out", outLong()));
        m.put("filter_hopping_suppress", (b, p) ->
            flat(evens(longs(b, "in")).groupByKey()
                .windowedBy(TimeWindows.ofSizeAndGrace(ms(p.l("size", 10)), ms(p.l("grace", 0)))
                    .advanceBy(ms(p.l("advance", 5))))
                .count(win("fhcounts", L))
                .suppress(Suppressed.untilWindowCloses(BufferConfig.unbounded()))
                .toStream()).to("out", outLong()));
        m.put("filter_session_suppress", (b, p) ->
            flat(evens(longs(b, "in")).groupByKey().windowedBy(sessions(p))
                .reduce(WindowScenarios::nsum, ses("fssums", L))
                .suppress(Suppressed.untilWindowCloses(BufferConfig.unbounded()))
                .toStream()).to("out", outLong()));
        m.put("filter_ss_left_join", (b, p) ->
            evens(longs(b, "left")).leftJoin(evens(longs(b, "right")), Scenarios::joined,
                joinWindows(p), StreamJoined.with(S, L, L)).to("out", outString()));
        m.put("filter_ss_outer_join", (b, p) ->
            evens(longs(b, "left")).outerJoin(longs(b, "right"), Scenarios::joined,
                joinWindows(p), StreamJoined.with(S, L, L)).to("out", outString()));
        m.put("rekey_ss_left_join", (b, p) ->
            longs(b, "left").selectKey(SemanticsScenarios::rekey)
                .leftJoin(longs(b, "right"), Scenarios::joined, joinWindows(p),
                    StreamJoined.with(S, L, L)).to("out", outString()));
        m.put("rekey_ss_outer_join", (b, p) ->
            longs(b, "left").selectKey(SemanticsScenarios::rekey)
                .outerJoin(longs(b, "right").selectKey(SemanticsScenarios::rekey),
                    Scenarios::joined, joinWindows(p), StreamJoined.with(S, L, L))
                .to("out", outString()));
        m.put("rekey_count", (b, p) ->
            longs(b, "in").selectKey(SemanticsScenarios::rekey).groupByKey()
                .count(Scenarios.kv("rcounts", L)).toStream().to("out", outLong()));
    }
}
