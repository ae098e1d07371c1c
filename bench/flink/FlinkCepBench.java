import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.cep.CEP;
import org.apache.flink.cep.functions.PatternProcessFunction;
import org.apache.flink.cep.nfa.aftermatch.AfterMatchSkipStrategy;
import org.apache.flink.cep.pattern.Pattern;
import org.apache.flink.cep.pattern.conditions.IterativeCondition;
import org.apache.flink.cep.pattern.conditions.SimpleCondition;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.Collector;

import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Flink equivalent of `styx bench cep`:
 * generator -> bounded-out-of-orderness (1 s) watermarks -> keyBy(key) -> flink-cep pattern in event time
 * -> one record per match -> discarding, counting sink.
 *
 * The pattern: low (value < 64), followedBy high oneOrMore (value >= 768 && value > first low + 700,
 * an IterativeCondition), followedBy back (value < 128), within 2 s, AfterMatchSkipStrategy.skipPastLastEvent().
 *
 * Usage: java -cp ... FlinkCepBench --events N --keys K --parallelism P
 */
public class FlinkCepBench {

    /** The event: a Flink POJO (public fields, public no-arg constructor). */
    public static class Event {
        public long key;
        public long ts;
        public long value;
        public Event() {}
    }

    /** The generator of `styx bench window` (unsigned 64-bit arithmetic). */
    public static final class Gen implements MapFunction<Long, Event> {
        private final long keys;
        Gen(long keys) { this.keys = keys; }
        @Override
        public Event map(Long boxed) {
            long i = boxed;
            Event e = new Event();
            e.key = Long.remainderUnsigned(i * 2654435761L, keys);
            e.ts = 1_700_000_000_000L + Long.divideUnsigned(i, 10) - Long.remainderUnsigned(i * 40503L, 500);
            e.value = i & 1023;
            return e;
        }
    }

    public static final class Low extends SimpleCondition<Event> {
        @Override public boolean filter(Event e) { return e.value < 64; }
    }

    /** value >= 768 && value > match.low[0].value + 700 */
    public static final class High extends IterativeCondition<Event> {
        @Override
        public boolean filter(Event e, Context<Event> ctx) throws Exception {
            if (e.value < 768) return false;
            Iterator<Event> low = ctx.getEventsForPattern("low").iterator();
            return low.hasNext() && e.value > low.next().value + 700;
        }
    }

    public static final class Back extends SimpleCondition<Event> {
        @Override public boolean filter(Event e) { return e.value < 128; }
    }

    /** One record per match: the number of events in it. */
    public static final class PerMatch extends PatternProcessFunction<Event, Long> {
        @Override
        public void processMatch(Map<String, List<Event>> match, Context ctx, Collector<Long> out) {
            long n = 0;
            for (List<Event> events : match.values()) n += events.size();
            out.collect(n);
        }
    }

    // Totals of the sink (the MiniCluster runs in this JVM).
    static final AtomicLong MATCHES = new AtomicLong();
    static final AtomicLong MATCHED_EVENTS = new AtomicLong();

    /** A sink that discards the matches but counts them. */
    public static final class CountingSink implements Sink<Long> {
        @Override
        public SinkWriter<Long> createWriter(WriterInitContext context) {
            return new SinkWriter<Long>() {
                long matches, matchedEvents;
                @Override public void write(Long n, Context ctx) { matches++; matchedEvents += n; }
                @Override public void flush(boolean endOfInput) {}
                @Override public void close() {
                    MATCHES.addAndGet(matches); MATCHED_EVENTS.addAndGet(matchedEvents);
                    matches = matchedEvents = 0;
                }
            };
        }
    }

    public static void main(String[] args) throws Exception {
        long jvmStartMs = java.lang.management.ManagementFactory.getRuntimeMXBean().getStartTime();
        long events = 10_000_000L, keys = 100;
        int parallelism = 1;
        boolean objectReuse = true;
        for (int a = 0; a < args.length; a++) {
            switch (args[a]) {
                case "--events": events = Long.parseLong(args[++a]); break;
                case "--keys": keys = Long.parseLong(args[++a]); break;
                case "--parallelism": parallelism = Integer.parseInt(args[++a]); break;
                case "--no-object-reuse": objectReuse = false; break;
                default: throw new IllegalArgumentException("unknown argument " + args[a]);
            }
        }

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(parallelism);
        if (objectReuse) env.getConfig().enableObjectReuse();

        final long k = keys;
        DataStream<Event> source = env
                .fromSequence(0, events - 1)               // NumberSequenceSource (FLIP-27)
                .name("generator")
                .map(new Gen(k)).name("to-event")
                .assignTimestampsAndWatermarks(
                        WatermarkStrategy.<Event>forBoundedOutOfOrderness(Duration.ofSeconds(1))
                                .withTimestampAssigner((e, prev) -> e.ts));

        Pattern<Event, Event> pattern = Pattern
                .<Event>begin("low", AfterMatchSkipStrategy.skipPastLastEvent()).where(new Low())
                .followedBy("high").where(new High()).oneOrMore()
                .followedBy("back").where(new Back())
                .within(Duration.ofSeconds(2));

        CEP.pattern(source.keyBy((KeySelector<Event, Long>) e -> e.key), pattern)
                .inEventTime()
                .process(new PerMatch(), Types.LONG)
                .name("cep-matches")
                .sinkTo(new CountingSink()).name("counting-sink");

        long t0 = System.nanoTime();
        JobExecutionResult res = env.execute("cep-bench");
        long t1 = System.nanoTime();
        double wall = (t1 - t0) / 1e9;
        double sinceJvm = (System.currentTimeMillis() - jvmStartMs) / 1e3;
        long peakRss = peakRssBytes();
        System.out.println(String.format(java.util.Locale.ROOT,
                "{\"engine\":\"flink\",\"flink_version\":\"%s\",\"events\":%d,\"matches\":%d,\"matched_events\":%d,"
                        + "\"wall_s\":%.6f,\"events_per_s\":%.1f,\"net_runtime_s\":%.6f,\"since_jvm_start_s\":%.3f,"
                        + "\"keys\":%d,\"parallelism\":%d,\"object_reuse\":%b,\"peak_rss_bytes\":%d}",
                org.apache.flink.runtime.util.EnvironmentInformation.getVersion(),
                events, MATCHES.get(), MATCHED_EVENTS.get(), wall, events / wall,
                res.getNetRuntime() / 1e3, sinceJvm, keys, parallelism, objectReuse, peakRss));
        System.exit(0);
    }

    static long peakRssBytes() {
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Paths.get("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        } catch (Exception ignored) {}
        return -1;
    }
}
