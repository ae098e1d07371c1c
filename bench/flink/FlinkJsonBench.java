import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.accumulators.LongCounter;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.AggregateFunction;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.FilterFunction;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.api.common.serialization.SimpleStringEncoder;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.connector.file.sink.FileSink;
import org.apache.flink.connector.file.src.FileSource;
import org.apache.flink.connector.file.src.reader.TextLineInputFormat;
import org.apache.flink.core.fs.Path;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.JsonNodeFactory;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.filesystem.bucketassigners.BasePathBucketAssigner;
import org.apache.flink.streaming.api.functions.windowing.WindowFunction;
import org.apache.flink.streaming.api.windowing.assigners.SlidingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.assigners.TumblingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.assigners.WindowAssigner;
import org.apache.flink.streaming.api.windowing.windows.TimeWindow;
import org.apache.flink.util.Collector;
import org.jpmml.evaluator.Evaluator;
import org.jpmml.evaluator.EvaluatorUtil;
import org.jpmml.evaluator.FieldValue;
import org.jpmml.evaluator.InputField;
import org.jpmml.evaluator.LoadingModelEvaluatorBuilder;

import java.io.File;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Flink equivalent of the job files in bench/flink/json: an NDJSON file read with FileSource and
 * TextLineInputFormat (bounded), each line parsed by Jackson's ObjectMapper into an ObjectNode,
 * results written back as JSON lines by Jackson to a row-format FileSink.
 *
 *   tumbling | sliding: watermarks on ts (bounded out of orderness 1s), keyBy(key), event-time
 *                       tumbling 10s or sliding 10s/1s windows, count and sum(value) by an
 *                       AggregateFunction; one line per window: key, window_start, window_end, n, total
 *   filtermap:          value > 50.0, then double = value * 2.0 added to the object
 *   score:              a JPMML-Evaluator loaded once per task scores each object (InputField.prepare
 *                       on its fields, EvaluatorUtil.decodeAll); the results are added to the object
 *
 * --records says what the windowed modes carry through keyBy and the window:
 *   typed (default)  each ObjectNode becomes an Event POJO (key, ts, value) before keyBy: Flink's
 *                    PojoSerializer between the operators, the AggregateFunction reads a field
 *   json             the ObjectNode itself, as a job that keeps JSON objects would be written: the key
 *                    selector and the AggregateFunction read the node (node.get("key").asText(),
 *                    node.get("value").asDouble()); ObjectNode is no POJO, so Flink serialises it
 *                    with its generic Kryo serializer across keyBy (also at parallelism 1)
 * Both give the same windows. filtermap and score are ObjectNodes from parsing to writing either
 * way: all their operators are chained (forward edges, same parallelism), so no record is ever
 * serialised and --records changes nothing there.
 *
 * Prints one JSON line: engine, mode, records, events (lines read), outputs (lines written), wall_s
 * of env.execute(), events_per_s.
 *
 * Usage: java -cp ... FlinkJsonBench --mode tumbling|sliding|filtermap|score --input EVENTS.ndjson
 *        --output DIR [--records typed|json] [--model MODEL.pmml] [--parallelism 1] [--no-object-reuse]
 */
public class FlinkJsonBench {

    /** What the windows read of an event: a Flink POJO. */
    public static class Event {
        public String key;
        public long ts;
        public double value;
        public Event() {}
    }

    /** The accumulator of count and sum. */
    public static class CountSum {
        public long count;
        public double sum;
        public CountSum() {}
    }

    /** Parses each line into an ObjectNode and counts the lines read (accumulator "events"). */
    public static final class Parse extends RichMapFunction<String, ObjectNode> {
        private transient ObjectMapper mapper;
        private final LongCounter events = new LongCounter();
        @Override public void open(OpenContext ctx) {
            mapper = new ObjectMapper();
            getRuntimeContext().addAccumulator("events", events);
        }
        @Override public ObjectNode map(String line) throws Exception {
            events.add(1);
            return (ObjectNode) mapper.readTree(line);
        }
    }

    /** Writes an ObjectNode as a JSON line and counts the lines written (accumulator "outputs"). */
    public static final class ToJson extends RichMapFunction<ObjectNode, String> {
        private transient ObjectMapper mapper;
        private final LongCounter outputs = new LongCounter();
        @Override public void open(OpenContext ctx) {
            mapper = new ObjectMapper();
            getRuntimeContext().addAccumulator("outputs", outputs);
        }
        @Override public String map(ObjectNode node) throws Exception {
            outputs.add(1);
            return mapper.writeValueAsString(node);
        }
    }

    public static final class ToEvent implements MapFunction<ObjectNode, Event> {
        @Override public Event map(ObjectNode node) {
            Event e = new Event();
            e.key = node.get("key").asText();
            e.ts = node.get("ts").asLong();
            e.value = node.get("value").asDouble();
            return e;
        }
    }

    public static final class CountSumAgg implements AggregateFunction<Event, CountSum, CountSum> {
        @Override public CountSum createAccumulator() { return new CountSum(); }
        @Override public CountSum add(Event e, CountSum acc) { acc.count++; acc.sum += e.value; return acc; }
        @Override public CountSum getResult(CountSum acc) { return acc; }
        @Override public CountSum merge(CountSum a, CountSum b) { a.count += b.count; a.sum += b.sum; return a; }
    }

    /** The same count and sum read straight from the JSON object (--records json). */
    public static final class CountSumJsonAgg implements AggregateFunction<ObjectNode, CountSum, CountSum> {
        @Override public CountSum createAccumulator() { return new CountSum(); }
        @Override public CountSum add(ObjectNode node, CountSum acc) {
            acc.count++;
            acc.sum += node.get("value").asDouble();
            return acc;
        }
        @Override public CountSum getResult(CountSum acc) { return acc; }
        @Override public CountSum merge(CountSum a, CountSum b) { a.count += b.count; a.sum += b.sum; return a; }
    }

    /** One result object per window: key, window_start, window_end, n, total. */
    public static final class ToResult implements WindowFunction<CountSum, ObjectNode, String, TimeWindow> {
        @Override
        public void apply(String key, TimeWindow window, Iterable<CountSum> input, Collector<ObjectNode> out) {
            CountSum cs = input.iterator().next();
            ObjectNode r = JsonNodeFactory.instance.objectNode();
            r.put("key", key);
            r.put("window_start", window.getStart());
            r.put("window_end", window.getEnd());
            r.put("n", cs.count);
            r.put("total", cs.sum);
            out.collect(r);
        }
    }

    public static final class Above implements FilterFunction<ObjectNode> {
        @Override public boolean filter(ObjectNode node) { return node.get("value").asDouble() > 50.0; }
    }

    public static final class Double2 implements MapFunction<ObjectNode, ObjectNode> {
        @Override public ObjectNode map(ObjectNode node) {
            node.put("double", node.get("value").asDouble() * 2.0);
            return node;
        }
    }

    /** Scores each object with a JPMML-Evaluator loaded in open() and adds the decoded results to it. */
    public static final class Score extends RichMapFunction<ObjectNode, ObjectNode> {
        private final String model;
        private transient Evaluator evaluator;
        private transient List<InputField> inputFields;
        Score(String model) { this.model = model; }
        @Override public void open(OpenContext ctx) throws Exception {
            evaluator = new LoadingModelEvaluatorBuilder().load(new File(model)).build();
            evaluator.verify();
            inputFields = evaluator.getInputFields();
        }
        @Override public ObjectNode map(ObjectNode node) {
            Map<String, FieldValue> arguments = new LinkedHashMap<>();
            for (InputField field : inputFields) {
                JsonNode v = node.get(field.getName());
                Object raw = (v == null || v.isNull()) ? null
                        : v.isNumber() ? v.numberValue() : v.isBoolean() ? (Object) v.booleanValue() : v.asText();
                arguments.put(field.getName(), field.prepare(raw));
            }
            Map<String, ?> results = EvaluatorUtil.decodeAll(evaluator.evaluate(arguments));
            for (Map.Entry<String, ?> r : results.entrySet()) {
                Object v = r.getValue();
                String name = r.getKey();
                if (v == null) node.putNull(name);
                else if (v instanceof Double) node.put(name, (Double) v);
                else if (v instanceof Float) node.put(name, (Float) v);
                else if (v instanceof Integer) node.put(name, (Integer) v);
                else if (v instanceof Long) node.put(name, (Long) v);
                else if (v instanceof Boolean) node.put(name, (Boolean) v);
                else node.put(name, v.toString());
            }
            return node;
        }
    }

    public static void main(String[] args) throws Exception {
        String mode = null, input = null, output = null, model = null, records = "typed";
        int parallelism = 1;
        boolean objectReuse = true;
        for (int a = 0; a < args.length; a++) {
            switch (args[a]) {
                case "--mode": mode = args[++a]; break;
                case "--input": input = args[++a]; break;
                case "--output": output = args[++a]; break;
                case "--model": model = args[++a]; break;
                case "--records": records = args[++a]; break;
                case "--parallelism": parallelism = Integer.parseInt(args[++a]); break;
                case "--no-object-reuse": objectReuse = false; break;
                default: throw new IllegalArgumentException("unknown argument " + args[a]);
            }
        }
        if (mode == null || input == null || output == null) throw new IllegalArgumentException("needs --mode, --input and --output");
        if (!records.equals("typed") && !records.equals("json")) throw new IllegalArgumentException("bad --records " + records);

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(parallelism);
        if (objectReuse) env.getConfig().enableObjectReuse();

        FileSource<String> files = FileSource.forRecordStreamFormat(new TextLineInputFormat(), new Path(input)).build();
        DataStream<ObjectNode> objects = env
                .fromSource(files, WatermarkStrategy.noWatermarks(), "file")
                .map(new Parse()).name("parse");

        DataStream<ObjectNode> results;
        switch (mode) {
            case "tumbling":
            case "sliding": {
                WindowAssigner<Object, TimeWindow> assigner = mode.equals("tumbling")
                        ? TumblingEventTimeWindows.of(Duration.ofSeconds(10))
                        : SlidingEventTimeWindows.of(Duration.ofSeconds(10), Duration.ofSeconds(1));
                if (records.equals("typed")) {
                    results = objects
                            .map(new ToEvent()).name("to-event")
                            .assignTimestampsAndWatermarks(
                                    WatermarkStrategy.<Event>forBoundedOutOfOrderness(Duration.ofSeconds(1))
                                            .withTimestampAssigner((e, prev) -> e.ts))
                            .keyBy((KeySelector<Event, String>) e -> e.key)
                            .window(assigner)
                            .aggregate(new CountSumAgg(), new ToResult())
                            .name("window-count-sum");
                } else {
                    results = objects
                            .assignTimestampsAndWatermarks(
                                    WatermarkStrategy.<ObjectNode>forBoundedOutOfOrderness(Duration.ofSeconds(1))
                                            .withTimestampAssigner((node, prev) -> node.get("ts").asLong()))
                            .keyBy((KeySelector<ObjectNode, String>) node -> node.get("key").asText())
                            .window(assigner)
                            .aggregate(new CountSumJsonAgg(), new ToResult())
                            .name("window-count-sum");
                }
                break;
            }
            // filtermap and score: source, parse, the operators and the sink are one chain, the
            // records are never serialised; --records changes nothing (see the class comment)
            case "filtermap":
                results = objects.filter(new Above()).name("value>50").map(new Double2()).name("double");
                break;
            case "score":
                if (model == null) throw new IllegalArgumentException("--mode score needs --model");
                results = objects.map(new Score(model)).name("score");
                break;
            default:
                throw new IllegalArgumentException("bad --mode " + mode);
        }

        results.map(new ToJson()).name("to-json")
                .sinkTo(FileSink.forRowFormat(new Path(output), new SimpleStringEncoder<String>())
                        .withBucketAssigner(new BasePathBucketAssigner<>())
                        .build())
                .name("file-sink");

        long t0 = System.nanoTime();
        JobExecutionResult res = env.execute("json-" + mode + "-" + records);
        double wall = (System.nanoTime() - t0) / 1e9;
        long events = res.<Long>getAccumulatorResult("events");
        long outputs = res.<Long>getAccumulatorResult("outputs");
        System.out.println(String.format(java.util.Locale.ROOT,
                "{\"engine\":\"flink\",\"flink_version\":\"%s\",\"mode\":\"%s\",\"records\":\"%s\",\"events\":%d,\"outputs\":%d,"
                        + "\"wall_s\":%.6f,\"events_per_s\":%.1f,\"parallelism\":%d,\"object_reuse\":%b,\"peak_rss_bytes\":%d}",
                org.apache.flink.runtime.util.EnvironmentInformation.getVersion(), mode, records, events, outputs,
                wall, events / wall, parallelism, objectReuse, peakRssBytes()));
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
