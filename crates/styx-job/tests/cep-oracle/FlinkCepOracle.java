import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.common.eventtime.WatermarkGenerator;
import org.apache.flink.api.common.eventtime.WatermarkOutput;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.cep.CEP;
import org.apache.flink.cep.PatternStream;
import org.apache.flink.cep.functions.PatternProcessFunction;
import org.apache.flink.cep.functions.TimedOutPartialMatchHandler;
import org.apache.flink.cep.nfa.aftermatch.AfterMatchSkipStrategy;
import org.apache.flink.cep.pattern.Pattern;
import org.apache.flink.cep.pattern.WithinType;
import org.apache.flink.cep.pattern.conditions.IterativeCondition;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.CloseableIterator;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Differential oracle for Styx's {@code pattern} transform: runs a scenario (spec.json + events.ndjson, the
 * layout of fixtures/cep) through Apache Flink 2.3's flink-cep and writes what Flink outputs.
 *
 * <p>The job is the one the shared fixtures' README describes: parallelism 1, the events in file order, a
 * watermark after every event ({@code max ts - out_of_orderness - 1}), {@code keyBy} the key field (or one
 * constant key without one), {@code CEP.pattern(...).inEventTime()}, {@code sideOutputLateData}, a
 * {@link PatternProcessFunction} that is also a {@link TimedOutPartialMatchHandler}, and every condition an
 * {@link IterativeCondition} that evaluates the spec's syntax tree with CEL semantics ({@link Cel}).
 *
 * <p>For each scenario folder given on the command line it writes {@code expected/matches.ndjson},
 * {@code expected/timed_out.ndjson} and {@code expected/late.ndjson}, or {@code expected/error.txt} when Flink
 * refuses the pattern while the job is built. All folders run in one JVM, one local execution each.
 *
 * <p>Usage: {@code java -cp "FLINK_LIB/*:CLASSES" FlinkCepOracle SCENARIO_DIR...}
 */
public class FlinkCepOracle {

    /** One input line: its original text, its parsed object, its event time and its key (as a string). */
    static final class Ev {
        final String raw;
        final Map<String, Object> obj;
        final long ts;
        final String key;

        Ev(String raw, Map<String, Object> obj, long ts, String key) {
            this.raw = raw;
            this.obj = obj;
            this.ts = ts;
            this.key = key;
        }
    }

    /**
     * Every event of the scenarios run so far, by id. The stream carries only ids (Longs), so that Flink never
     * serializes events; the local cluster runs in this JVM and reads them from here.
     */
    static final Map<Long, Ev> EVENTS = new ConcurrentHashMap<>();

    static Ev ev(Long id) {
        return EVENTS.get(id);
    }

    // ------------------------------------------------------------------------------------------------------
    // Conditions

    /** A stage condition: evaluates a spec.json syntax tree; an error or a non-bool result is false. */
    static final class TreeCondition extends IterativeCondition<Long> {
        private final Object tree;

        TreeCondition(Object tree) {
            this.tree = tree;
        }

        @Override
        public boolean filter(Long id, Context<Long> ctx) throws Exception {
            Object v = Cel.eval(tree, ev(id).obj, stage -> {
                List<Map<String, Object>> out = new ArrayList<>();
                for (Long e : ctx.getEventsForPattern(stage)) {
                    out.add(ev(e).obj);
                }
                return out;
            });
            return Boolean.TRUE.equals(v);
        }
    }

    // ------------------------------------------------------------------------------------------------------
    // Watermarks, keys, output

    /** Emits {@code max ts - ooo - 1} after every event (and nothing periodically). */
    static final class PerEventWatermarks implements WatermarkGenerator<Long> {
        private final long ooo;
        private long max = Long.MIN_VALUE;

        PerEventWatermarks(long ooo) {
            this.ooo = ooo;
        }

        @Override
        public void onEvent(Long id, long ts, WatermarkOutput out) {
            max = Math.max(max, ts);
            out.emitWatermark(new Watermark(max - ooo - 1));
        }

        @Override
        public void onPeriodicEmit(WatermarkOutput out) {}
    }

    /** The key of an event, or one constant key for a pattern without a key field. */
    static final class EvKey implements KeySelector<Long, String> {
        @Override
        public String getKey(Long id) {
            return ev(id).key;
        }
    }

    /** Turns matches and timed-out partial matches into the output lines of the fixtures. */
    static final class Emit extends PatternProcessFunction<Long, String> implements TimedOutPartialMatchHandler<Long> {
        private final String keyField;
        private final OutputTag<String> timedOut;

        Emit(String keyField, OutputTag<String> timedOut) {
            this.keyField = keyField;
            this.timedOut = timedOut;
        }

        @Override
        public void processMatch(Map<String, List<Long>> match, Context ctx, Collector<String> out) {
            out.collect(render(match, null));
        }

        @Override
        public void processTimedOutMatch(Map<String, List<Long>> match, Context ctx) {
            ctx.output(timedOut, render(match, ctx.timestamp()));
        }

        private String render(Map<String, List<Long>> match, Long timedOutAt) {
            StringBuilder sb = new StringBuilder("{");
            long start = Long.MAX_VALUE, end = Long.MIN_VALUE;
            Object key = null;
            boolean first = true;
            for (Map.Entry<String, List<Long>> st : match.entrySet()) {
                if (st.getValue().isEmpty()) continue;
                if (!first) sb.append(',');
                first = false;
                Json.writeString(sb, st.getKey());
                sb.append(":[");
                for (int i = 0; i < st.getValue().size(); i++) {
                    Ev e = ev(st.getValue().get(i));
                    if (i > 0) sb.append(',');
                    sb.append(e.raw);
                    start = Math.min(start, e.ts);
                    end = Math.max(end, e.ts);
                    if (key == null && keyField != null) key = e.obj.get(keyField);
                }
                sb.append(']');
            }
            if (keyField != null) {
                sb.append(',');
                Json.writeString(sb, keyField);
                sb.append(':');
                Json.write(sb, key);
            }
            sb.append(",\"match_start\":").append(start).append(",\"match_end\":").append(end);
            if (timedOutAt != null) sb.append(",\"timed_out_at\":").append(timedOutAt);
            return sb.append('}').toString();
        }
    }

    // ------------------------------------------------------------------------------------------------------
    // Pattern from spec.json

    @SuppressWarnings("unchecked")
    static Pattern<Long, Long> buildPattern(Map<String, Object> spec) {
        Map<String, Object> am = (Map<String, Object>) spec.get("after_match");
        String kind = (String) am.get("kind");
        AfterMatchSkipStrategy skip;
        switch (kind) {
            case "no_skip": skip = AfterMatchSkipStrategy.noSkip(); break;
            case "skip_to_next": skip = AfterMatchSkipStrategy.skipToNext(); break;
            case "skip_past_last_event": skip = AfterMatchSkipStrategy.skipPastLastEvent(); break;
            case "skip_to_first": skip = AfterMatchSkipStrategy.skipToFirst((String) am.get("stage")); break;
            case "skip_to_last": skip = AfterMatchSkipStrategy.skipToLast((String) am.get("stage")); break;
            default: throw new IllegalArgumentException("unknown after_match " + kind);
        }
        Pattern<Long, Long> p = null;
        for (Object o : (List<Object>) spec.get("stages")) {
            Map<String, Object> st = (Map<String, Object>) o;
            String name = (String) st.get("name");
            String follows = (String) st.get("follows");
            if (p == null) {
                p = Pattern.<Long>begin(name, skip);
            } else {
                switch (follows == null ? "followed_by" : follows) {
                    case "next": p = p.next(name); break;
                    case "followed_by": p = p.followedBy(name); break;
                    case "followed_by_any": p = p.followedByAny(name); break;
                    case "not_next": p = p.notNext(name); break;
                    case "not_followed_by": p = p.notFollowedBy(name); break;
                    default: throw new IllegalArgumentException("unknown follows " + follows);
                }
            }
            p = p.where(new TreeCondition(st.get("cond")));
            Object ors = st.get("or");
            if (ors != null) {
                for (Object c : (List<Object>) ors) p = p.or(new TreeCondition(c));
            }
            Map<String, Object> q = (Map<String, Object>) st.get("quant");
            switch ((String) q.get("kind")) {
                case "one": break;
                case "times": p = p.times(((Number) q.get("n")).intValue()); break;
                case "range": p = p.times(((Number) q.get("from")).intValue(), ((Number) q.get("to")).intValue()); break;
                case "times_or_more": p = p.timesOrMore(((Number) q.get("n")).intValue()); break;
                case "one_or_more": p = p.oneOrMore(); break;
                default: throw new IllegalArgumentException("unknown quantifier " + q.get("kind"));
            }
            if (Boolean.TRUE.equals(st.get("optional"))) p = p.optional();
            Object inner = st.get("inner");
            if ("consecutive".equals(inner)) p = p.consecutive();
            else if ("combinations".equals(inner)) p = p.allowCombinations();
            else if (inner != null && !"relaxed".equals(inner)) throw new IllegalArgumentException("unknown inner " + inner);
            if (Boolean.TRUE.equals(st.get("greedy"))) p = p.greedy();
            if (st.get("until") != null) p = p.until(new TreeCondition(st.get("until")));
        }
        Object within = spec.get("within_ms");
        if (within != null) {
            WithinType wt = "previous_and_current".equals(spec.get("within_type"))
                    ? WithinType.PREVIOUS_AND_CURRENT : WithinType.FIRST_AND_LAST;
            p = p.within(Duration.ofMillis(((Number) within).longValue()), wt);
        }
        return p;
    }

    // ------------------------------------------------------------------------------------------------------
    // One scenario

    static long nextScenario = 0;

    /** A scenario whose Flink run takes longer or outputs more than this is given up (a pattern that blew up). */
    static final long TIMEOUT_SECONDS = Long.getLong("oracle.timeout", 120);
    static final int MAX_OUTPUT_LINES = Integer.getInteger("oracle.maxLines", 100_000);
    static final ExecutorService DRAIN = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "drain");
        t.setDaemon(true);
        return t;
    });

    /** Runs one scenario folder and writes its expected/ folder. */
    @SuppressWarnings("unchecked")
    static void runScenario(Path dir) throws Exception {
        Map<String, Object> spec = (Map<String, Object>) Json.parse(Files.readString(dir.resolve("spec.json")));
        String tsField = (String) spec.get("ts_field");
        String keyField = (String) spec.get("key_field");
        long ooo = ((Number) spec.get("out_of_orderness_ms")).longValue();

        long base = (nextScenario++) << 32;
        List<Long> ids = new ArrayList<>();
        for (String line : Files.readAllLines(dir.resolve("events.ndjson"), StandardCharsets.UTF_8)) {
            line = line.strip();
            if (line.isEmpty()) continue;
            Map<String, Object> obj = (Map<String, Object>) Json.parse(line);
            long ts = ((Number) obj.get(tsField)).longValue();
            String key = "";
            if (keyField != null) {
                StringBuilder k = new StringBuilder();
                Json.write(k, obj.get(keyField));
                key = k.toString();
            }
            long id = base + ids.size();
            EVENTS.put(id, new Ev(line, obj, ts, key));
            ids.add(id);
        }

        Path exp = dir.resolve("expected");
        Files.createDirectories(exp);
        for (String f : new String[] {"matches.ndjson", "timed_out.ndjson", "late.ndjson", "error.txt"}) {
            Files.deleteIfExists(exp.resolve(f));
        }

        List<String> matches = new ArrayList<>(), timedOut = new ArrayList<>(), late = new ArrayList<>();
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(1);
        OutputTag<String> timedOutTag = new OutputTag<>("timed_out", Types.STRING);
        OutputTag<Long> lateTag = new OutputTag<>("late", Types.LONG);
        SingleOutputStreamOperator<String> out;
        try {
            Pattern<Long, Long> pattern = buildPattern(spec);
            DataStream<Long> input = env.fromData(Types.LONG, ids.toArray(new Long[0]))
                    .assignTimestampsAndWatermarks(WatermarkStrategy
                            .<Long>forGenerator(c -> new PerEventWatermarks(ooo))
                            .withTimestampAssigner((id, prev) -> ev(id).ts));
            PatternStream<Long> ps = CEP.pattern(input.keyBy(new EvKey()), pattern)
                    .inEventTime()
                    .sideOutputLateData(lateTag);
            // The NFA is compiled (and the pattern checked) here, while the job is built.
            out = ps.process(new Emit(keyField, timedOutTag), Types.STRING);
        } catch (Exception e) {
            Files.writeString(exp.resolve("error.txt"), e.getClass().getName() + ": " + e.getMessage() + "\n");
            return;
        }
        DataStream<String> all = out.map(s -> "M" + s).returns(Types.STRING)
                .union(out.getSideOutput(timedOutTag).map(s -> "T" + s).returns(Types.STRING),
                        out.getSideOutput(lateTag).map(id -> "L" + ev(id).raw).returns(Types.STRING));
        CloseableIterator<String> it = all.collectAsync();
        JobClient client = env.executeAsync(dir.getFileName().toString());
        Future<?> drained = DRAIN.submit(() -> {
            int n = 0;
            while (it.hasNext()) {
                String s = it.next();
                if (++n > MAX_OUTPUT_LINES) throw new IllegalStateException("more than " + MAX_OUTPUT_LINES + " output lines");
                String line = s.substring(1);
                switch (s.charAt(0)) {
                    case 'M': matches.add(line); break;
                    case 'T': timedOut.add(line); break;
                    default: late.add(line); break;
                }
            }
            return null;
        });
        try {
            drained.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (TimeoutException | ExecutionException e) {
            client.cancel();
            it.close();
            throw new IllegalStateException("scenario aborted: " + (e instanceof TimeoutException
                    ? "ran longer than " + TIMEOUT_SECONDS + " s" : e.getCause().getMessage()));
        } finally {
            it.close();
        }
        Files.write(exp.resolve("matches.ndjson"), matches, StandardCharsets.UTF_8);
        Files.write(exp.resolve("timed_out.ndjson"), timedOut, StandardCharsets.UTF_8);
        Files.write(exp.resolve("late.ndjson"), late, StandardCharsets.UTF_8);
        for (Long id : ids) EVENTS.remove(id);
    }

    /**
     * Runs the scenario folders given as arguments; with {@code --serve}, reads one folder per stdin line and
     * answers {@code done <folder>} or {@code failed <folder>} on stdout after each (used by the minimiser).
     */
    public static void main(String[] args) throws Exception {
        if (args.length == 1 && args[0].equals("--serve")) {
            java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(System.in, StandardCharsets.UTF_8));
            String line;
            while ((line = in.readLine()) != null) {
                line = line.strip();
                if (line.isEmpty()) continue;
                System.out.println((runOne(Paths.get(line)) ? "done " : "failed ") + line);
                System.out.flush();
            }
            System.exit(0);
        }
        int failed = 0;
        for (String a : args) {
            if (!runOne(Paths.get(a))) failed++;
        }
        System.exit(failed == 0 ? 0 : 1);
    }

    /** Runs one folder; on an oracle failure writes oracle-failure.txt there and returns false. */
    static boolean runOne(Path dir) throws IOException {
        Files.deleteIfExists(dir.resolve("oracle-failure.txt"));
        long t0 = System.nanoTime();
        try {
            runScenario(dir);
            System.err.printf("oracle: %s done in %d ms%n", dir.getFileName(), (System.nanoTime() - t0) / 1_000_000);
            return true;
        } catch (Exception e) {
            StringWriter sw = new StringWriter();
            e.printStackTrace(new PrintWriter(sw));
            System.err.println("oracle: " + dir + " FAILED: " + e);
            Files.writeString(dir.resolve("oracle-failure.txt"), sw.toString());
            return false;
        }
    }

    // ======================================================================================================

    /**
     * A CEL evaluator for the spec.json syntax trees: {@code {"lit": v}}, {@code {"var": field}},
     * {@code {"ref": stage, "idx": n | "last", "field": f}} ({@code match.stage[n].f}), {@code {"size": stage}}
     * ({@code size(match.stage)}) and {@code {"op": o, "args": [...]}}.
     *
     * <p>Values are Long (CEL int), Double, String, Boolean, null, List and Map; {@link #ERR} is an evaluation
     * error. As in CEL: a missing field, an index out of range, a comparison or arithmetic without an overload
     * (a string against a number, int arithmetic with a double) and int overflow or division by zero are errors;
     * {@code &&} / {@code ||} absorb an error when another argument decides; {@code !error} is an error. Ints and
     * doubles compare by numeric value (CEL's heterogeneous numeric comparison and equality); values of other
     * different types are unequal.
     */
    static final class Cel {
        /**
         * {@code -Doracle.cel=styx}: the CEL dialect of styx's evaluator where it differs from CEL on purpose:
         * int with double arithmetic is done in doubles (the job files' number rules). Only for telling that
         * difference apart from pattern-semantics ones; never for expected/.
         */
        static final boolean STYX_DIALECT = "styx".equals(System.getProperty("oracle.cel"));

        /** The error value. */
        static final Object ERR = new Object() {
            @Override public String toString() { return "<error>"; }
        };

        /** The events a partial match has taken for a stage ({@code match.stage}). */
        interface Match {
            List<Map<String, Object>> events(String stage) throws Exception;
        }

        @SuppressWarnings("unchecked")
        static Object eval(Object node, Map<String, Object> event, Match match) throws Exception {
            Map<String, Object> n = (Map<String, Object>) node;
            if (n.containsKey("lit")) return n.get("lit");
            if (n.containsKey("var")) {
                String f = (String) n.get("var");
                return event.containsKey(f) ? event.get(f) : ERR;
            }
            if (n.containsKey("size")) return (long) match.events((String) n.get("size")).size();
            if (n.containsKey("ref")) {
                List<Map<String, Object>> evs = match.events((String) n.get("ref"));
                Object idx = n.get("idx");
                long i = "last".equals(idx) ? evs.size() - 1 : ((Number) idx).longValue();
                if (i < 0 || i >= evs.size()) return ERR;
                Map<String, Object> e = evs.get((int) i);
                String f = (String) n.get("field");
                return e.containsKey(f) ? e.get(f) : ERR;
            }
            String op = (String) n.get("op");
            List<Object> args = (List<Object>) n.get("args");
            switch (op) {
                case "&&": {
                    boolean err = false;
                    for (Object a : args) {
                        Object v = eval(a, event, match);
                        if (Boolean.FALSE.equals(v)) return false;
                        if (!(v instanceof Boolean)) err = true;
                    }
                    return err ? ERR : Boolean.TRUE;
                }
                case "||": {
                    boolean err = false;
                    for (Object a : args) {
                        Object v = eval(a, event, match);
                        if (Boolean.TRUE.equals(v)) return true;
                        if (!(v instanceof Boolean)) err = true;
                    }
                    return err ? ERR : Boolean.FALSE;
                }
                case "!": {
                    Object v = eval(args.get(0), event, match);
                    return v instanceof Boolean ? !(Boolean) v : ERR;
                }
                default:
                    break;
            }
            Object a = eval(args.get(0), event, match);
            if (a == ERR) return ERR;
            if (args.size() == 1) {
                if (!op.equals("-")) throw new IllegalArgumentException("unary " + op);
                if (a instanceof Long) return (Long) a == Long.MIN_VALUE ? ERR : -(Long) a;
                if (a instanceof Double) return -(Double) a;
                return ERR;
            }
            Object b = eval(args.get(1), event, match);
            if (b == ERR) return ERR;
            switch (op) {
                case "==": return equal(a, b);
                case "!=": return !equal(a, b);
                case "<": case "<=": case ">": case ">=": {
                    Integer c = compare(a, b);
                    if (c == null) return ERR;
                    switch (op) {
                        case "<": return c < 0;
                        case "<=": return c <= 0;
                        case ">": return c > 0;
                        default: return c >= 0;
                    }
                }
                case "+": case "-": case "*": case "/": case "%":
                    return arith(op, a, b);
                default:
                    throw new IllegalArgumentException("unknown op " + op);
            }
        }

        static boolean equal(Object a, Object b) {
            if (a == null || b == null) return a == b;
            if (a instanceof Number && b instanceof Number) return numCompare((Number) a, (Number) b) == 0;
            return a.equals(b);
        }

        static int numCompare(Number a, Number b) {
            if (a instanceof Long && b instanceof Long) return Long.compare((Long) a, (Long) b);
            if (a instanceof Double && b instanceof Double) return Double.compare((Double) a, (Double) b);
            // int against double: by numeric value
            java.math.BigDecimal x = new java.math.BigDecimal(a.toString()), y = new java.math.BigDecimal(b.toString());
            return x.compareTo(y);
        }

        static Integer compare(Object a, Object b) {
            if (a instanceof Number && b instanceof Number) {
                if ((a instanceof Double && ((Double) a).isNaN()) || (b instanceof Double && ((Double) b).isNaN())) return null;
                return numCompare((Number) a, (Number) b);
            }
            if (a instanceof String && b instanceof String) return ((String) a).compareTo((String) b);
            if (a instanceof Boolean && b instanceof Boolean) return Boolean.compare((Boolean) a, (Boolean) b);
            return null;
        }

        static Object arith(String op, Object a, Object b) {
            try {
                if (a instanceof Long && b instanceof Long) {
                    long x = (Long) a, y = (Long) b;
                    switch (op) {
                        case "+": return Math.addExact(x, y);
                        case "-": return Math.subtractExact(x, y);
                        case "*": return Math.multiplyExact(x, y);
                        case "/": return y == 0 || (x == Long.MIN_VALUE && y == -1) ? ERR : x / y;
                        default: return y == 0 ? ERR : x % y;
                    }
                }
                if (a instanceof Double && b instanceof Double) {
                    double x = (Double) a, y = (Double) b;
                    switch (op) {
                        case "+": return x + y;
                        case "-": return x - y;
                        case "*": return x * y;
                        case "/": return x / y;
                        default: return ERR;
                    }
                }
                if (op.equals("+") && a instanceof String && b instanceof String) return a + (String) b;
                if (STYX_DIALECT && a instanceof Number && b instanceof Number) {
                    return arith(op, ((Number) a).doubleValue(), ((Number) b).doubleValue());
                }
                return ERR;
            } catch (ArithmeticException e) {
                return ERR;
            }
        }
    }

    // ======================================================================================================

    /** A small JSON reader/writer that keeps ints (Long) apart from doubles (Double) as the fixtures need. */
    static final class Json {
        private final String s;
        private int i;

        private Json(String s) {
            this.s = s;
        }

        static Object parse(String text) {
            Json j = new Json(text);
            Object v = j.value();
            j.ws();
            if (j.i != text.length()) throw new IllegalArgumentException("trailing text in JSON at " + j.i);
            return v;
        }

        private void ws() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
        }

        private Object value() {
            ws();
            char c = s.charAt(i);
            if (c == '{') {
                i++;
                Map<String, Object> m = new LinkedHashMap<>();
                ws();
                if (s.charAt(i) == '}') { i++; return m; }
                while (true) {
                    ws();
                    String k = string();
                    ws();
                    expect(':');
                    m.put(k, value());
                    ws();
                    if (s.charAt(i) == ',') { i++; continue; }
                    expect('}');
                    return m;
                }
            }
            if (c == '[') {
                i++;
                List<Object> l = new ArrayList<>();
                ws();
                if (s.charAt(i) == ']') { i++; return l; }
                while (true) {
                    l.add(value());
                    ws();
                    if (s.charAt(i) == ',') { i++; continue; }
                    expect(']');
                    return l;
                }
            }
            if (c == '"') return string();
            if (s.startsWith("true", i)) { i += 4; return Boolean.TRUE; }
            if (s.startsWith("false", i)) { i += 5; return Boolean.FALSE; }
            if (s.startsWith("null", i)) { i += 4; return null; }
            int start = i;
            boolean dbl = false;
            while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) {
                if (".eE".indexOf(s.charAt(i)) >= 0) dbl = true;
                i++;
            }
            String num = s.substring(start, i);
            if (num.isEmpty()) throw new IllegalArgumentException("bad JSON at " + start);
            if (!dbl) {
                try {
                    return Long.parseLong(num);
                } catch (NumberFormatException e) {
                    return Double.parseDouble(num);
                }
            }
            return Double.parseDouble(num);
        }

        private void expect(char c) {
            if (s.charAt(i) != c) throw new IllegalArgumentException("expected " + c + " at " + i);
            i++;
        }

        private String string() {
            expect('"');
            StringBuilder sb = new StringBuilder();
            while (true) {
                char c = s.charAt(i++);
                if (c == '"') return sb.toString();
                if (c != '\\') { sb.append(c); continue; }
                char e = s.charAt(i++);
                switch (e) {
                    case 'n': sb.append('\n'); break;
                    case 't': sb.append('\t'); break;
                    case 'r': sb.append('\r'); break;
                    case 'b': sb.append('\b'); break;
                    case 'f': sb.append('\f'); break;
                    case 'u': sb.append((char) Integer.parseInt(s.substring(i, i + 4), 16)); i += 4; break;
                    default: sb.append(e);
                }
            }
        }

        static void writeString(StringBuilder sb, String v) {
            sb.append('"');
            for (char c : v.toCharArray()) {
                if (c == '"' || c == '\\') sb.append('\\').append(c);
                else if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
                else sb.append(c);
            }
            sb.append('"');
        }

        @SuppressWarnings("unchecked")
        static void write(StringBuilder sb, Object v) {
            if (v == null) sb.append("null");
            else if (v instanceof String) writeString(sb, (String) v);
            else if (v instanceof Double) {
                double d = (Double) v;
                sb.append(Double.isFinite(d) ? Double.toString(d) : "null");
            } else if (v instanceof Map) {
                sb.append('{');
                boolean first = true;
                for (Map.Entry<String, Object> e : ((Map<String, Object>) v).entrySet()) {
                    if (!first) sb.append(',');
                    first = false;
                    writeString(sb, e.getKey());
                    sb.append(':');
                    write(sb, e.getValue());
                }
                sb.append('}');
            } else if (v instanceof List) {
                sb.append('[');
                boolean first = true;
                for (Object o : (List<Object>) v) {
                    if (!first) sb.append(',');
                    first = false;
                    write(sb, o);
                }
                sb.append(']');
            } else sb.append(v);
        }
    }
}
