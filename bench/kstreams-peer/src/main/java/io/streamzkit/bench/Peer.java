package io.streamzkit.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaClientSupplier;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.processor.internals.DefaultKafkaClientSupplier;

/**
 * W1-W3 in Kafka Streams, measured the way bench/sk_runner.py measures streamz_kit.
 *
 * <p>A counter is bumped for every input record (a peek right after the source); a sampling
 * thread reads it every 5 ms and keeps the first and the last observation at which it moved;
 * once it reaches --target the app is closed (close flushes the record caches and commits).
 * Rate = (last count - first count) / (end of the last commit - first time): start-up (JVM,
 * group join, RocksDB open) is excluded and the close's flush and commit are counted, as
 * bench/sk_runner.py does for streamz_kit. The end of a commit is stamped by the clients Kafka
 * Streams is given (TimedClients: the consumer's commitSync under at_least_once, the producer's
 * commitTransaction under exactly_once_v2); they are Kafka's own clients, unchanged but for
 * the stamp. processing_rate is the same count up to the last record processed only.
 *
 * <p>Settings are Kafka Streams' defaults except: num.stream.threads (1 unless given: one
 * streamz_kit worker is one event loop on one core; the harness can pass 2), the guarantee
 * (at_least_once or exactly_once_v2, each with its own default commit interval: 30 s / 100 ms),
 * state.dir (a fresh directory per run), and the producer's batch.size (512 KB, streamz_kit's
 * producer batch limit, instead of Kafka's 16 KB). Record cache: the default 10 MB, as streamz_kit's.
 * Serdes: String keys, JSON values through Jackson (what a Java user writes for JSON).
 */
public final class Peer {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long WINDOW_SIZE_MS = 60_000;
    private static final long WINDOW_ADVANCE_MS = 10_000;

    public static void main(String[] argv) throws Exception {
        Map<String, String> a = new HashMap<>();
        for (int i = 0; i + 1 < argv.length; i += 2) {
            a.put(argv[i].replaceFirst("^--", ""), argv[i + 1]);
        }
        String workload = a.get("workload");
        String out = a.get("out");
        long target = Long.parseLong(a.get("target"));
        String guarantee = a.getOrDefault("guarantee", "at_least_once");

        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, a.get("group"));
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, a.get("bootstrap"));
        props.put(StreamsConfig.STATE_DIR_CONFIG,
                  Files.createDirectories(Path.of(a.get("state-dir"))).toString());
        props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, a.getOrDefault("threads", "1"));
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG,
                  guarantee.equals("exactly_once") ? StreamsConfig.EXACTLY_ONCE_V2 : StreamsConfig.AT_LEAST_ONCE);
        props.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");
        props.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
        // The one client setting aligned: streamz_kit's Kafka producer batches up to 512 KB per
        // partition; Kafka's default batch.size is 16 KB. Same batch limit for both.
        props.put(StreamsConfig.producerPrefix("batch.size"), 524288);

        AtomicLong seen = new AtomicLong();
        StreamsBuilder builder = new StreamsBuilder();
        KStream<String, String> input = builder.stream(
            "bench-in", Consumed.with(Serdes.String(), Serdes.String()))
            .peek((k, v) -> seen.incrementAndGet());
        Produced<String, String> strings = Produced.with(Serdes.String(), Serdes.String());
        switch (workload) {
            case "W1" -> input.mapValues(Peer::parse)
                .filter((k, v) -> !"skip".equals(v.get("kind").asText()))
                .mapValues(v -> {
                    ObjectNode o = JSON.createObjectNode();
                    o.put("id", v.get("id").asLong());
                    o.put("amount_cents", v.get("amount").asLong() * 100);
                    o.put("kind", v.get("kind").asText());
                    return o.toString();
                })
                .to(out, strings);
            case "W2" -> input.groupByKey().count().toStream()
                .mapValues(String::valueOf).to(out, strings);
            case "W3" -> input.groupByKey()
                .windowedBy(TimeWindows.ofSizeWithNoGrace(Duration.ofMillis(WINDOW_SIZE_MS))
                    .advanceBy(Duration.ofMillis(WINDOW_ADVANCE_MS)))
                .count().toStream()
                .map((wk, c) -> KeyValue.pair(wk.key() + "@" + wk.window().start(), String.valueOf(c)))
                .to(out, strings);
            default -> throw new IllegalArgumentException("unknown workload " + workload);
        }

        TimedClients clients = new TimedClients();
        KafkaStreams streams = new KafkaStreams(builder.build(), props, clients);
        Throwable[] failure = new Throwable[1];
        streams.setUncaughtExceptionHandler(e -> {
            failure[0] = e;
            return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler
                .StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        long t0 = System.nanoTime();
        streams.start();
        double timeoutS = Double.parseDouble(a.getOrDefault("timeout", "300"));
        long firstT = 0, firstN = 0, lastT = 0, lastN = 0;
        boolean timedOut = false;
        while (true) {
            Thread.sleep(5);
            long now = System.nanoTime();
            long n = seen.get();
            if (n > 0 && firstT == 0) { firstT = now; firstN = n; }
            if (n > 0 && n != lastN) { lastT = now; lastN = n; }
            if (n >= target || failure[0] != null
                    || streams.state() == KafkaStreams.State.ERROR) break;
            if ((now - t0) / 1e9 > timeoutS) { timedOut = true; break; }
        }
        long tStop = System.nanoTime();
        streams.close(Duration.ofSeconds(60));
        long tStopped = System.nanoTime();
        // the last output durable: the end of the last commit after the last record (close's)
        long committed = clients.lastCommitEnd.get();
        long flushedT = committed >= lastT && lastT > 0 ? committed : 0;
        long endT = flushedT > 0 ? flushedT : lastT;
        double rate = endT > firstT ? (lastN - firstN) / ((endT - firstT) / 1e9) : 0.0;
        ObjectNode r = JSON.createObjectNode();
        r.put("rate", rate);
        r.put("processing_rate", lastT > firstT ? (lastN - firstN) / ((lastT - firstT) / 1e9) : 0.0);
        r.put("processed", lastN);
        r.put("startup_s", firstT > 0 ? (firstT - t0) / 1e9 : 0);
        r.put("window_s", (lastT - firstT) / 1e9);
        // System.nanoTime is CLOCK_MONOTONIC on Linux, the clock of Python's time.monotonic:
        // the harness's outside timing starts at this first record too (bench/drain.py)
        if (firstT > 0) {
            r.put("first_mono", firstT / 1e9);
            r.put("first_count", firstN);  // records processed before first_mono
        }
        if (lastT > 0) r.put("last_mono", lastT / 1e9);
        if (flushedT > 0) {
            r.put("flushed_mono", flushedT / 1e9);
            r.put("flush_s", (flushedT - lastT) / 1e9);
            r.put("close_to_flushed_s", (flushedT - tStop) / 1e9);
            long flushStart = clients.lastFlushStart.get();
            if (flushStart >= tStop) {
                // the close: the thread noticing it plus the caches' flush, then the producer's
                r.put("close_to_producer_flush_s", (flushStart - tStop) / 1e9);
                r.put("producer_flush_to_committed_s", (flushedT - flushStart) / 1e9);
            }
        }
        r.put("stop_s", (tStopped - tStop) / 1e9);
        r.put("timed_out", timedOut);
        if (failure[0] != null) r.put("error", failure[0].toString());
        else r.putNull("error");
        r.put("peak_rss_kb", peakRssKb());
        r.put("threads", props.getProperty(StreamsConfig.NUM_STREAM_THREADS_CONFIG));
        System.out.println("BENCH_RESULT " + r);
        System.out.flush();
        System.exit(0);
    }

    /**
     * Kafka Streams' default clients, each stamping the end of a commit on the monotonic clock:
     * the moment the outputs before it are durable (at_least_once: the producer was flushed
     * before the offsets' commitSync; exactly_once_v2: the transaction committed). Nothing
     * else differs from DefaultKafkaClientSupplier.
     */
    static final class TimedClients implements KafkaClientSupplier {
        final AtomicLong lastCommitEnd = new AtomicLong();
        // where a commit's time goes: the record caches are flushed (records sent) before the
        // producer's flush() starts, and the producer's flush waits for the acks
        final AtomicLong lastFlushStart = new AtomicLong();
        private final DefaultKafkaClientSupplier plain = new DefaultKafkaClientSupplier();

        @Override
        public org.apache.kafka.clients.admin.Admin getAdmin(Map<String, Object> config) {
            return plain.getAdmin(config);
        }

        @Override
        public Producer<byte[], byte[]> getProducer(Map<String, Object> config) {
            return new KafkaProducer<>(config, new ByteArraySerializer(), new ByteArraySerializer()) {
                @Override
                public void flush() {
                    lastFlushStart.set(System.nanoTime());
                    super.flush();
                }

                @Override
                public void commitTransaction() {
                    super.commitTransaction();
                    lastCommitEnd.set(System.nanoTime());
                }
            };
        }

        @Override
        public Consumer<byte[], byte[]> getConsumer(Map<String, Object> config) {
            return new KafkaConsumer<>(config, new ByteArrayDeserializer(), new ByteArrayDeserializer()) {
                @Override
                public void commitSync(Map<TopicPartition, OffsetAndMetadata> offsets) {
                    super.commitSync(offsets);
                    lastCommitEnd.set(System.nanoTime());
                }

                @Override
                public void commitSync(Map<TopicPartition, OffsetAndMetadata> offsets, Duration timeout) {
                    super.commitSync(offsets, timeout);
                    lastCommitEnd.set(System.nanoTime());
                }
            };
        }

        @Override
        public Consumer<byte[], byte[]> getRestoreConsumer(Map<String, Object> config) {
            return plain.getRestoreConsumer(config);
        }

        @Override
        public Consumer<byte[], byte[]> getGlobalConsumer(Map<String, Object> config) {
            return plain.getGlobalConsumer(config);
        }
    }

    private static JsonNode parse(String v) {
        try {
            return JSON.readTree(v);
        } catch (Exception e) {
            throw new RuntimeException(e);
        }
    }

    private static long peakRssKb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) return Long.parseLong(line.split("\\s+")[1]);
            }
        } catch (Exception ignored) {
            // not Linux: no figure
        }
        return 0;
    }
}
