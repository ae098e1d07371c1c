import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.AggregateFunction;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.windowing.WindowFunction;
import org.apache.flink.streaming.api.windowing.assigners.SlidingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.assigners.TumblingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.assigners.WindowAssigner;
import org.apache.flink.streaming.api.windowing.windows.TimeWindow;
import org.apache.flink.util.Collector;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Flink equivalent of `styx bench window`:
 * generator -> bounded-out-of-orderness watermarks -> keyBy(key) -> window -> count+sum -> discarding, summing sink.
 *
 * Usage: java -cp ... FlinkWindowBench --events N --keys K --window tumbling:10s|sliding:10s/1s --out-of-orderness 1s --parallelism 1
 */
public class FlinkWindowBench {

    /** The event: a Flink POJO (public fields, public no-arg constructor). */
    public static class Event {
        public long key;
        public long ts;
        public long value;
        public Event() {}
    }

    /** A window result: key, window end, count, sum(value). */
    public static class Result {
        public long key;
        public long windowEnd;
        public long count;
        public long sum;
        public Result() {}
    }

    /** The accumulator of count and sum. */
    public static class CountSum {
        public long count;
        public long sum;
        public CountSum() {}
    }

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

    public static final class CountSumAgg implements AggregateFunction<Event, CountSum, CountSum> {
        @Override public CountSum createAccumulator() { return new CountSum(); }
        @Override public CountSum add(Event e, CountSum acc) { acc.count++; acc.sum += e.value; return acc; }
        @Override public CountSum getResult(CountSum acc) { return acc; }
        @Override public CountSum merge(CountSum a, CountSum b) { a.count += b.count; a.sum += b.sum; return a; }
    }

    public static final class ToResult implements WindowFunction<CountSum, Result, Long, TimeWindow> {
        @Override
        public void apply(Long key, TimeWindow window, Iterable<CountSum> input, Collector<Result> out) {
            CountSum cs = input.iterator().next();
            Result r = new Result();
            r.key = key;
            r.windowEnd = window.getEnd();
            r.count = cs.count;
            r.sum = cs.sum;
            out.collect(r);
        }
    }

    // Totals of the sink (the MiniCluster runs in this JVM).
    static final AtomicLong WINDOWS = new AtomicLong();
    static final AtomicLong COUNTED = new AtomicLong();
    static final AtomicLong SUMMED = new AtomicLong();

    /** A sink that discards the results but adds them up. */
    public static final class SummingSink implements Sink<Result> {
        @Override
        public SinkWriter<Result> createWriter(WriterInitContext context) {
            return new SinkWriter<Result>() {
                long windows, counted, summed;
                @Override public void write(Result r, Context ctx) { windows++; counted += r.count; summed += r.sum; }
                @Override public void flush(boolean endOfInput) {}
                @Override public void close() {
                    WINDOWS.addAndGet(windows); COUNTED.addAndGet(counted); SUMMED.addAndGet(summed);
                    windows = counted = summed = 0;
                }
            };
        }
    }

    static Duration parseDuration(String s) {
        s = s.trim();
        if (s.endsWith("ms")) return Duration.ofMillis(Long.parseLong(s.substring(0, s.length() - 2)));
        if (s.endsWith("s")) return Duration.ofSeconds(Long.parseLong(s.substring(0, s.length() - 1)));
        if (s.endsWith("m")) return Duration.ofMinutes(Long.parseLong(s.substring(0, s.length() - 1)));
        return Duration.ofMillis(Long.parseLong(s));
    }

    public static void main(String[] args) throws Exception {
        long jvmStartMs = java.lang.management.ManagementFactory.getRuntimeMXBean().getStartTime();
        long events = 10_000_000L, keys = 1000;
        String window = "tumbling:10s";
        Duration ooo = Duration.ofSeconds(1);
        int parallelism = 1;
        boolean objectReuse = true;
        for (int a = 0; a < args.length; a++) {
            switch (args[a]) {
                case "--events": events = Long.parseLong(args[++a]); break;
                case "--keys": keys = Long.parseLong(args[++a]); break;
                case "--window": window = args[++a]; break;
                case "--out-of-orderness": ooo = parseDuration(args[++a]); break;
                case "--parallelism": parallelism = Integer.parseInt(args[++a]); break;
                case "--no-object-reuse": objectReuse = false; break;
                default: throw new IllegalArgumentException("unknown argument " + args[a]);
            }
        }

        WindowAssigner<Object, TimeWindow> assigner;
        long expectedFactor;
        if (window.startsWith("tumbling:")) {
            assigner = TumblingEventTimeWindows.of(parseDuration(window.substring(9)));
            expectedFactor = 1;
        } else if (window.startsWith("sliding:")) {
            String[] p = window.substring(8).split("/");
            Duration size = parseDuration(p[0]), slide = parseDuration(p[1]);
            assigner = SlidingEventTimeWindows.of(size, slide);
            expectedFactor = size.toMillis() / slide.toMillis();
        } else {
            throw new IllegalArgumentException("bad --window " + window);
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
                        WatermarkStrategy.<Event>forBoundedOutOfOrderness(ooo)
                                .withTimestampAssigner((e, prev) -> e.ts));

        source
                .keyBy((KeySelector<Event, Long>) e -> e.key)
                .window(assigner)
                .aggregate(new CountSumAgg(), new ToResult())
                .name("window-count-sum")
                .sinkTo(new SummingSink()).name("summing-sink");

        long t0 = System.nanoTime();
        JobExecutionResult res = env.execute("window-bench");
        long t1 = System.nanoTime();
        double wall = (t1 - t0) / 1e9;
        double sinceJvm = (System.currentTimeMillis() - jvmStartMs) / 1e3;
        long peakRss = peakRssBytes();
        System.out.println(String.format(java.util.Locale.ROOT,
                "{\"engine\":\"flink\",\"flink_version\":\"%s\",\"events\":%d,\"windows\":%d,\"counted\":%d,\"summed\":%d,"
                        + "\"wall_s\":%.6f,\"events_per_s\":%.1f,\"net_runtime_s\":%.6f,\"since_jvm_start_s\":%.3f,"
                        + "\"window\":\"%s\",\"keys\":%d,\"parallelism\":%d,\"object_reuse\":%b,\"expected_counted\":%d,\"counted_ok\":%b,\"peak_rss_bytes\":%d}",
                org.apache.flink.runtime.util.EnvironmentInformation.getVersion(),
                events, WINDOWS.get(), COUNTED.get(), SUMMED.get(), wall, events / wall,
                res.getNetRuntime() / 1e3, sinceJvm, window, keys, parallelism, objectReuse,
                events * expectedFactor, COUNTED.get() == events * expectedFactor, peakRss));
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
