package io.streamzkit.oracle;

import static io.streamzkit.oracle.Scenarios.L;
import static io.streamzkit.oracle.Scenarios.longs;
import static io.streamzkit.oracle.Scenarios.outLong;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.kstream.Branched;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Repartitioned;

/** Stateless chains: filter, map, flat_map, select_key, split, merge, repartition. */
final class StatelessScenarios {
    private StatelessScenarios() {}

    static void register(Map<String, Scenarios.Scenario> m) {
        m.put("filter_map_values", (b, p) -> {
            long mod = p.l("m", 3);
            longs(b, "in").filter((k, v) -> v != null && v % mod != 0)
                .mapValues(v -> v * 2 + 1).to("out", outLong());
        });
        m.put("map_select_key", (b, p) -> {
            long mod = p.l("m", 3);
            longs(b, "in")
                .map((k, v) -> KeyValue.pair(
                    (k == null ? "nk" : k) + "-" + (v == null ? "n" : String.valueOf(v % mod)),
                    v == null ? -1L : v + 1))
                .selectKey((k, v) -> v % 2 == 0 ? k : null)
                .to("out", outLong());
        });
        m.put("flat_map", (b, p) -> {
            long mod = p.l("m", 3);
            longs(b, "in").flatMap((k, v) -> {
                List<KeyValue<String, Long>> out = new ArrayList<>();
                long n = v == null ? 0 : v % mod;
                for (long i = 0; i < n; i++) {
                    out.add(KeyValue.pair((k == null ? "nk" : k) + i, v * 10 + i));
                }
                return out;
            }).to("out", outLong());
        });
        m.put("flat_map_values", (b, p) ->
            longs(b, "in").flatMapValues(v -> v == null ? List.<Long>of() : List.of(v, v + 100))
                .to("out", outLong()));
        m.put("split_merge", (b, p) -> {
            Map<String, KStream<String, Long>> branches = longs(b, "in").split(Named.as("b-"))
                .branch((k, v) -> v != null && v % 3 == 0, Branched.as("x"))
                .branch((k, v) -> v != null && v % 3 == 1, Branched.as("y"))
                .defaultBranch(Branched.as("z"));
            branches.get("b-x").mapValues(v -> v + 1000).merge(branches.get("b-y"))
                .to("out", outLong());
            branches.get("b-z").to("out2", outLong());
        });
        m.put("merge_topics", (b, p) ->
            longs(b, "in").merge(longs(b, "in2").mapValues(v -> v == null ? null : v * 10))
                .to("out", outLong()));
        m.put("filter_not_map_values_with_key", (b, p) ->
            longs(b, "in").filterNot((k, v) -> k == null)
                .mapValues((k, v) -> (long) k.length() * 100 + (v == null ? 0 : v))
                .to("out", outLong()));
        m.put("repartition_select_key", (b, p) -> {
            long mod = p.l("m", 3);
            longs(b, "in")
                .selectKey((k, v) -> v == null || v % 4 == 0 ? null : "r" + (v % mod))
                .repartition(Repartitioned.with(Scenarios.S, L).withName("rp"))
                .mapValues(v -> v == null ? 0L : v + 1)
                .to("out", outLong());
        });
    }
}
