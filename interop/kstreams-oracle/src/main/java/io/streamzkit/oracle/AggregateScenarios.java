package io.streamzkit.oracle;

import static io.streamzkit.oracle.Scenarios.L;
import static io.streamzkit.oracle.Scenarios.S;
import static io.streamzkit.oracle.Scenarios.kv;
import static io.streamzkit.oracle.Scenarios.longs;
import static io.streamzkit.oracle.Scenarios.outLong;
import static io.streamzkit.oracle.Scenarios.outString;

import java.util.Map;
import com.fasterxml.jackson.databind.JsonNode;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Produced;

/** group_by / aggregate / reduce / count on streams, and tables with adder and subtractor. */
final class AggregateScenarios {
    private AggregateScenarios() {}

    static KTable<String, Long> table(org.apache.kafka.streams.StreamsBuilder b, String topic, String store) {
        return b.table(topic, Consumed.with(S, L), kv(store, L));
    }

    static void register(Map<String, Scenarios.Scenario> m) {
        m.put("count", (b, p) ->
            longs(b, "in").groupByKey().count(kv("counts", L)).toStream().to("out", outLong()));
        m.put("reduce_sum", (b, p) ->
            longs(b, "in").groupByKey().reduce(Long::sum, kv("sums", L))
                .toStream().to("out", outLong()));
        m.put("aggregate_concat", (b, p) ->
            longs(b, "in").groupByKey()
                .aggregate(() -> "", (k, v, agg) -> agg + v + ";", kv("aggs", S))
                .toStream().to("out", outString()));
        m.put("group_by_count", (b, p) -> {
            long mod = p.l("m", 3);
            longs(b, "in")
                .groupBy((k, v) -> v == null ? k : "g" + (v % mod), Grouped.with(S, L))
                .count(kv("counts", L)).toStream().to("out", outLong());
        });
        m.put("select_key_null_count", (b, p) -> {
            long mod = p.l("m", 3);
            longs(b, "in")
                .selectKey((k, v) -> v == null || v % 4 == 0 ? null : "r" + (v % mod))
                .groupByKey().count(kv("counts", L)).toStream().to("out", outLong());
        });
        m.put("table_source", (b, p) ->
            table(b, "in", "t").toStream().to("out", outLong()));
        m.put("stream_to_table", (b, p) ->
            longs(b, "in").toTable(kv("t", L)).toStream().to("out", outLong()));
        m.put("table_filter_map_values", (b, p) -> {
            long mod = p.l("m", 2);
            table(b, "in", "t").filter((k, v) -> v % mod == 0).mapValues(v -> v * 10)
                .toStream().to("out", outLong());
        });
        m.put("table_unnamed_filter", (b, p) -> {
            long mod = p.l("m", 2);
            b.table("in", Consumed.with(S, L)).filter((k, v) -> v % mod == 0)
                .toStream().to("out", outLong());
        });
        m.put("table_filter_materialized", (b, p) -> {
            long mod = p.l("m", 2);
            table(b, "in", "t").filter((k, v) -> v % mod == 0, kv("f", L))
                .toStream().to("out", outLong());
        });
        m.put("json_aggregate", (b, p) ->
            longs(b, "in").groupByKey().aggregate(
                () -> (JsonNode) Main.JSON.createObjectNode().put("n", 0).put("sum", 0),
                (k, v, agg) -> Main.JSON.createObjectNode()
                    .put("n", agg.get("n").asLong() + 1).put("sum", agg.get("sum").asLong() + v),
                kv("jaggs", Values.JSON_SERDE))
                .toStream().to("out", Produced.with(S, Values.JSON_SERDE)));
        m.put("table_group_by_count", (b, p) -> {
            long mod = p.l("m", 3);
            table(b, "in", "t")
                .groupBy((k, v) -> KeyValue.pair("g" + (v % mod), v), Grouped.with(S, L))
                .count(kv("counts", L)).toStream().to("out", outLong());
        });
        m.put("table_group_by_reduce", (b, p) -> {
            long mod = p.l("m", 3);
            table(b, "in", "t")
                .groupBy((k, v) -> KeyValue.pair("g" + (v % mod), v), Grouped.with(S, L))
                .reduce(Long::sum, (agg, v) -> agg - v, kv("sums", L))
                .toStream().to("out", outLong());
        });
        m.put("table_group_by_aggregate", (b, p) -> {
            long mod = p.l("m", 3);
            table(b, "in", "t")
                .groupBy((k, v) -> KeyValue.pair("g" + (v % mod), v), Grouped.with(S, L))
                .aggregate(() -> "", (k, v, agg) -> agg + "+" + v, (k, v, agg) -> agg + "-" + v,
                    kv("aggs", S))
                .toStream().to("out", outString());
        });
        m.put("table_group_by_aggregate_cached", m.get("table_group_by_aggregate"));
    }
}
