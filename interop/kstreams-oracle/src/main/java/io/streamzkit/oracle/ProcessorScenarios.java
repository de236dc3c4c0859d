package io.streamzkit.oracle;

import static io.streamzkit.oracle.Scenarios.L;
import static io.streamzkit.oracle.Scenarios.S;
import static io.streamzkit.oracle.Scenarios.longs;
import static io.streamzkit.oracle.Scenarios.outLong;

import java.time.Duration;
import java.util.Map;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;

/** The Processor API: a summing processor with a store and a punctuation. */
final class ProcessorScenarios {
    private ProcessorScenarios() {}

    /** Keeps a sum per key in "pstore" and forwards it; every interval (of stream time or
     * wall-clock time) forwards "@tick" with the punctuation time, then every key's sum. */
    static final class SumPunctuator implements Processor<String, Long, String, Long> {
        private final PunctuationType type;
        private final long interval;
        private ProcessorContext<String, Long> ctx;
        private KeyValueStore<String, Long> store;

        SumPunctuator(PunctuationType type, long interval) {
            this.type = type;
            this.interval = interval;
        }

        @Override
        public void init(ProcessorContext<String, Long> context) {
            ctx = context;
            store = context.getStateStore("pstore");
            context.schedule(Duration.ofMillis(interval), type, ts -> {
                ctx.forward(new Record<>("@tick", ts, ts));
                try (KeyValueIterator<String, Long> it = store.all()) {
                    while (it.hasNext()) {
                        KeyValue<String, Long> kv = it.next();
                        ctx.forward(new Record<>(kv.key, kv.value, ts));
                    }
                }
            });
        }

        @Override
        public void process(Record<String, Long> record) {
            if (record.key() == null || record.value() == null) {
                return;
            }
            Long old = store.get(record.key());
            long sum = (old == null ? 0 : old) + record.value();
            store.put(record.key(), sum);
            ctx.forward(record.withValue(sum));
        }
    }

    static void register(Map<String, Scenarios.Scenario> m) {
        m.put("punctuate_stream_time", (b, p) -> {
            b.addStateStore(Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore("pstore"), S, L));
            long interval = p.l("interval", 10);
            longs(b, "in").process(() -> new SumPunctuator(PunctuationType.STREAM_TIME, interval),
                "pstore").to("out", outLong());
        });
        m.put("punctuate_wall_clock", (b, p) -> {
            b.addStateStore(Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore("pstore"), S, L));
            long interval = p.l("interval", 10);
            longs(b, "in").process(() -> new SumPunctuator(PunctuationType.WALL_CLOCK_TIME, interval),
                "pstore").to("out", outLong());
        });
    }
}
