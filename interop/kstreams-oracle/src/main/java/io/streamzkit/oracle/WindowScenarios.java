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
import org.apache.kafka.streams.kstream.SessionWindows;
import org.apache.kafka.streams.kstream.SlidingWindows;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.Suppressed.BufferConfig;
import org.apache.kafka.streams.kstream.TimeWindows;

/** Every window type with grace: tumbling, hopping, sliding, session; suppress. */
final class WindowScenarios {
    private WindowScenarios() {}

    static Duration ms(long v) {
        return Duration.ofMillis(v);
    }

    /** A reducer that treats null as 0 (windowed aggregations pass null values on). */
    static Long nsum(Long agg, Long v) {
        return (agg == null ? 0 : agg) + (v == null ? 0 : v);
    }

    static TimeWindows tumbling(Params p) {
        return TimeWindows.ofSizeAndGrace(ms(p.l("size", 10)), ms(p.l("grace", 5)));
    }

    static SessionWindows sessions(Params p) {
        return SessionWindows.ofInactivityGapAndGrace(ms(p.l("gap", 5)), ms(p.l("grace", 5)));
    }

    static void register(Map<String, Scenarios.Scenario> m) {
        m.put("tumbling_count", (b, p) ->
            flat(longs(b, "in").groupByKey().windowedBy(tumbling(p))
                .count(win("wcounts", L)).toStream()).to("out", outLong()));
        m.put("tumbling_reduce_no_grace", (b, p) ->
            flat(longs(b, "in").groupByKey()
                .windowedBy(TimeWindows.ofSizeWithNoGrace(ms(p.l("size", 10))))
                .reduce(WindowScenarios::nsum, win("wsums", L)).toStream()).to("out", outLong()));
        m.put("hopping_aggregate", (b, p) ->
            flat(longs(b, "in").groupByKey()
                .windowedBy(tumbling(p).advanceBy(ms(p.l("advance", 5))))
                .aggregate(() -> "", (k, v, agg) -> agg + v + ";", win("waggs", S))
                .toStream()).to("out", outString()));
        m.put("sliding_aggregate", (b, p) ->
            flat(longs(b, "in").groupByKey()
                .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(
                    ms(p.l("diff", 10)), ms(p.l("grace", 5))))
                .aggregate(() -> "", (k, v, agg) -> agg + v + ";", win("slaggs", S))
                .toStream()).to("out", outString()));
        m.put("session_count", (b, p) ->
            flat(longs(b, "in").groupByKey().windowedBy(sessions(p))
                .count(ses("scounts", L)).toStream()).to("out", outLong()));
        m.put("session_aggregate", (b, p) ->
            flat(longs(b, "in").groupByKey().windowedBy(sessions(p))
                .aggregate(() -> "", (k, v, agg) -> agg + v + ";",
                    (k, a1, a2) -> a1 + "|" + a2, ses("saggs", S))
                .toStream()).to("out", outString()));
        m.put("tumbling_suppress", (b, p) ->
            flat(longs(b, "in").groupByKey().windowedBy(tumbling(p))
                .count(win("wcounts", L))
                .suppress(Suppressed.untilWindowCloses(BufferConfig.unbounded()))
                .toStream()).to("out", outLong()));
        m.put("hopping_suppress", (b, p) ->
            flat(longs(b, "in").groupByKey()
                .windowedBy(tumbling(p).advanceBy(ms(p.l("advance", 5))))
                .reduce(WindowScenarios::nsum, win("wsums", L))
                .suppress(Suppressed.untilWindowCloses(BufferConfig.unbounded()))
                .toStream()).to("out", outLong()));
        m.put("sliding_suppress", (b, p) ->
            flat(longs(b, "in").groupByKey()
                .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(
                    ms(p.l("diff", 10)), ms(p.l("grace", 5))))
                .count(win("slcounts", L))
                .suppress(Suppressed.untilWindowCloses(BufferConfig.unbounded()))
                .toStream()).to("out", outLong()));
        m.put("session_suppress", (b, p) ->
            flat(longs(b, "in").groupByKey().windowedBy(sessions(p))
                .count(ses("scounts", L))
                .suppress(Suppressed.untilWindowCloses(BufferConfig.unbounded()))
                .toStream()).to("out", outLong()));
        m.put("filter_tumbling_count", (b, p) ->
            flat(longs(b, "in").filter((k, v) -> v != null && v % 2 == 0).groupByKey()
                .windowedBy(tumbling(p)).count(win("wcounts", L)).toStream())
                .to("out", outLong()));
    }
}
