import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import de.siegmar.fastcsv.reader.CsvReader;
import de.siegmar.fastcsv.reader.CsvRecord;
import org.jpmml.evaluator.Evaluator;
import org.jpmml.evaluator.EvaluatorUtil;
import org.jpmml.evaluator.FieldValue;
import org.jpmml.evaluator.InputField;
import org.jpmml.evaluator.LoadingModelEvaluatorBuilder;
import org.jpmml.evaluator.OutputField;
import org.jpmml.evaluator.OutputFilters;
import org.jpmml.evaluator.TargetField;

/**
 * Single-threaded records/s of JPMML-Evaluator, mirroring `styx bench score`:
 * the model is loaded once, IN.csv is read once into a list of Map<String, String>
 * (raw strings, empty cell = null), then records are evaluated one at a time, cycling
 * through the rows. Per record: arguments are built with inputField.prepare(rawValue)
 * (as in JPMML-Evaluator's README), evaluator.evaluate(arguments) is called, and every
 * target and output value is decoded and folded into a checksum so the JIT cannot drop it.
 *
 * Usage: java -cp ... JpmmlBench --model M.pmml --input IN.csv [--records N]
 *        [--warmup-s S] [--warmup-records W] [--final-only]
 */
public class JpmmlBench {

	public static void main(String[] args) throws Exception {
		String model = null, input = null;
		long records = 1_000_000L;
		double warmupSeconds = 5.0;
		long warmupRecords = 200_000L;
		boolean finalOnly = false;
		for (int i = 0; i < args.length; i++) {
			switch (args[i]) {
				case "--model": model = args[++i]; break;
				case "--input": input = args[++i]; break;
				case "--records": records = Long.parseLong(args[++i]); break;
				case "--warmup-s": warmupSeconds = Double.parseDouble(args[++i]); break;
				case "--warmup-records": warmupRecords = Long.parseLong(args[++i]); break;
				case "--final-only": finalOnly = true; break;
				default: throw new IllegalArgumentException(args[i]);
			}
		}

		LoadingModelEvaluatorBuilder builder = new LoadingModelEvaluatorBuilder().load(new File(model));
		if (finalOnly) {
			builder.setOutputFilter(OutputFilters.KEEP_FINAL_RESULTS);
		}
		Evaluator evaluator = builder.build();
		evaluator.verify();

		List<Map<String, String>> rows = readCsv(Path.of(input));
		if (rows.isEmpty()) throw new IllegalArgumentException(input + " has no data rows");

		List<InputField> inputFields = evaluator.getInputFields();
		List<String> resultNames = new ArrayList<>();
		for (TargetField f : evaluator.getTargetFields()) resultNames.add(f.getName());
		for (OutputField f : evaluator.getOutputFields()) resultNames.add(f.getName());
		String firstTarget = evaluator.getTargetFields().isEmpty() ? null : evaluator.getTargetFields().get(0).getName();

		State warm = new State();
		long t0 = System.nanoTime();
		long warmDeadline = t0 + (long) (warmupSeconds * 1e9);
		long w = 0;
		// Warm-up: at least warmupRecords records and at least warmupSeconds, capped at 4x warmupSeconds.
		while (true) {
			run(evaluator, inputFields, resultNames, firstTarget, rows, w, 1000, warm);
			w += 1000;
			long now = System.nanoTime();
			if (now >= warmDeadline && w >= warmupRecords) break;
			if (now - t0 >= (long) (4 * warmupSeconds * 1e9)) break;
		}
		double warmS = (System.nanoTime() - t0) / 1e9;

		State st = new State();
		long start = System.nanoTime();
		run(evaluator, inputFields, resultNames, firstTarget, rows, 0, records, st);
		double wall = (System.nanoTime() - start) / 1e9;

		System.err.println("warmup_records=" + w + " warmup_s=" + warmS + " checksum=" + (st.sink ^ warm.sink)
			+ " firstError=" + st.firstError);
		System.out.println("{\"records\": " + records + ", \"wall_s\": " + wall + ", \"records_per_s\": " + (records / wall)
			+ ", \"predicted\": " + st.predicted + ", \"errors\": " + st.errors + "}");
	}

	static final class State {
		long sink, predicted, errors;
		String firstError;
	}

	static void run(Evaluator evaluator, List<InputField> inputFields, List<String> resultNames, String firstTarget,
			List<Map<String, String>> rows, long from, long count, State st) {
		int n = rows.size();
		long sink = st.sink;
		for (long i = from; i < from + count; i++) {
			Map<String, String> row = rows.get((int) (i % n));
			try {
				Map<String, FieldValue> arguments = new LinkedHashMap<>();
				for (InputField inputField : inputFields) {
					String name = inputField.getName();
					arguments.put(name, inputField.prepare(row.get(name)));
				}
				Map<String, ?> results = evaluator.evaluate(arguments);
				for (String name : resultNames) {
					Object v = EvaluatorUtil.decode(results.get(name));
					if (v != null) sink = sink * 31 + v.hashCode();
				}
				if (EvaluatorUtil.decode(results.get(firstTarget)) != null) st.predicted++;
			} catch (RuntimeException e) {
				st.errors++;
				if (st.firstError == null) st.firstError = e.toString();
			}
		}
		st.sink = sink;
	}

	static List<Map<String, String>> readCsv(Path path) throws Exception {
		String first;
		try (var r = Files.newBufferedReader(path, StandardCharsets.UTF_8)) {
			first = r.readLine();
		}
		char sep = ',';
		long commas = first.chars().filter(c -> c == ',').count();
		long semis = first.chars().filter(c -> c == ';').count();
		long tabs = first.chars().filter(c -> c == '\t').count();
		if (semis > commas && semis >= tabs) sep = ';';
		else if (tabs > commas && tabs > semis) sep = '\t';
		List<Map<String, String>> rows = new ArrayList<>();
		try (CsvReader<CsvRecord> reader = CsvReader.builder().fieldSeparator(sep).ofCsvRecord(path)) {
			List<String> header = null;
			for (CsvRecord rec : reader) {
				if (header == null) { header = rec.getFields(); continue; }
				Map<String, String> row = new HashMap<>();
				for (int i = 0; i < header.size(); i++) {
					String v = i < rec.getFieldCount() ? rec.getField(i) : "";
					row.put(header.get(i), v.isEmpty() ? null : v);
				}
				rows.add(row);
			}
		}
		return rows;
	}
}
