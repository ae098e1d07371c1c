"""Writes the hand-written conformance cases of PMML's built-in functions (140-159).

Each case is a small RegressionModel whose LocalTransformations apply functions to the
inputs; every derived field is also an OutputField (feature="transformedValue"), so
JPMML's value of each function is compared directly. The inputs hit the edge cases
(missing values, zero divisors, halves, negative operands, empty strings, leap days...).
Then score the cases with jpmml.py:

    python make_functions.py && for d in ../fixtures/14* ../fixtures/15*; do python jpmml.py $d; done

Standard library only.
"""

import csv
import json
import math
import random
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def attrs(**kw):
    return "".join(f" {k.rstrip('_').replace('__', '-')}={quoteattr(str(v))}" for k, v in kw.items() if v is not None)


def A(fn, *args, **kw):
    """An Apply element."""
    return f"<Apply function={quoteattr(fn)}{attrs(**kw)}>" + "".join(args) + "</Apply>"


def F(name, **kw):
    return f"<FieldRef field={quoteattr(name)}{attrs(**kw)}/>"


def C(value, dt=None, missing=False):
    if missing:
        return f'<Constant{attrs(dataType=dt)} missing="true"/>'
    return f"<Constant{attrs(dataType=dt)}>{escape(str(value))}</Constant>"


def write_case(num, slug, notes, fields, derived, rows, predictors, extra_outputs=(), expect_error=None,
               derived_outputs=True, functions=(), version="4.4"):
    """fields: (name, dataType, optype, inner xml, MiningField attrs dict);
    derived: (name, dataType, optype, expression xml);
    predictors: (derived or input name, coefficient) for the regression table."""
    name = f"{num}-{slug}"
    d = FIXTURES / name
    d.mkdir(parents=True, exist_ok=True)
    x = ['<?xml version="1.0" encoding="UTF-8"?>',
         f'<PMML xmlns="http://www.dmg.org/PMML-{version.replace(".", "_")}" version="{version}">',
         '\t<Header description="Hand-written: PMML built-in functions with edge-case inputs"/>',
         '\t<DataDictionary>']
    for fname, dt, op, inner, _ in fields:
        if inner:
            x.append(f"\t\t<DataField name={quoteattr(fname)} optype={quoteattr(op)} dataType={quoteattr(dt)}>{inner}</DataField>")
        else:
            x.append(f"\t\t<DataField name={quoteattr(fname)} optype={quoteattr(op)} dataType={quoteattr(dt)}/>")
    x.append('\t\t<DataField name="y" optype="continuous" dataType="double"/>')
    x.append('\t</DataDictionary>')
    for fn in functions:
        x.append(fn)
    x.append('\t<RegressionModel functionName="regression" modelName="functions">')
    x.append('\t\t<MiningSchema>')
    x.append('\t\t\t<MiningField name="y" usageType="target"/>')
    for fname, _, _, _, mf in fields:
        x.append(f"\t\t\t<MiningField name={quoteattr(fname)}{attrs(**(mf or {}))}/>")
    x.append('\t\t</MiningSchema>')
    x.append('\t\t<Output>')
    x.append('\t\t\t<OutputField name="prediction" feature="predictedValue" dataType="double" optype="continuous"/>')
    if derived_outputs:
        for dname, dt, op, _ in derived:
            x.append(f'\t\t\t<OutputField name={quoteattr("out_" + dname)} feature="transformedValue" dataType={quoteattr(dt)} optype={quoteattr(op)}>{F(dname)}</OutputField>')
    for oname, dt, op, expr in extra_outputs:
        x.append(f'\t\t\t<OutputField name={quoteattr(oname)} feature="transformedValue" dataType={quoteattr(dt)} optype={quoteattr(op)}>{expr}</OutputField>')
    x.append('\t\t</Output>')
    x.append('\t\t<LocalTransformations>')
    for dname, dt, op, expr in derived:
        x.append(f'\t\t\t<DerivedField name={quoteattr(dname)} dataType={quoteattr(dt)} optype={quoteattr(op)}>{expr}</DerivedField>')
    x.append('\t\t</LocalTransformations>')
    intercept, preds = predictors
    x.append(f'\t\t<RegressionTable intercept="{intercept}">')
    for p, c in preds:
        x.append(f'\t\t\t<NumericPredictor name={quoteattr(p)} coefficient="{c}"/>')
    x.append('\t\t</RegressionTable>')
    x.append('\t</RegressionModel>')
    x.append('</PMML>')
    (d / "model.pmml").write_text("\n".join(x) + "\n")
    header = [f[0] for f in fields]
    with open(d / "input.csv", "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        for r in rows:
            w.writerow(["" if r.get(h) is None else r.get(h) for h in header])
    meta_path = d / "case.json"
    meta = {
        "name": name,
        "suite": "styx",
        "family": "functions",
        "source": "hand-written PMML (tests/oracle/make_functions.py): " + notes,
        "notes": notes,
    }
    if expect_error:
        meta["expect_error"] = expect_error
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")


def cont(name, dt="double", inner="", **mf):
    return (name, dt, "continuous", inner, mf)


def cat(name, dt="string", inner="", **mf):
    return (name, dt, "categorical", inner, mf)


def case_140():
    rnd = random.Random(140)
    rows = []
    edge = [(7, 2), (-7, 2), (7, -2), (-7, -2), (0, 5), (5, 0), (-5, 0), (0, 0), (2147483647, 1), (46341, 46341),
            (-2147483647, 2), (1, -1), (6, 3), (-6, 3), (None, 3), (3, None)]
    for i, j in edge:
        rows.append({"i": i, "j": j, "x": rnd.choice([0.0, -0.0, 1.5, -2.5]), "z": rnd.choice([0.0, 2.0, -0.5]), "fl": "0.1"})
    for _ in range(80):
        rows.append({
            "i": rnd.randint(-40000, 40000),
            "j": rnd.choice([0, 1, -1, 2, -3, 7, rnd.randint(-100, 100)]),
            "x": rnd.choice([None, 0.0, round(rnd.uniform(-1e3, 1e3), 4), round(rnd.uniform(-1, 1), 6), 1e300, -7.25]),
            "z": rnd.choice([None, 0.0, round(rnd.uniform(-50, 50), 3), 3.0, -0.125, 1e-300]),
            "fl": rnd.choice(["0.1", "3.4028235E38", "-1.5", "16777217", str(round(rnd.uniform(-100, 100), 5))]),
        })
    am = dict(invalidValueTreatment="asMissing")
    derived = [
        ("i_add", "integer", "continuous", A("+", F("i"), F("j"), **am)),
        ("i_sub", "integer", "continuous", A("-", F("i"), F("j"), **am)),
        ("i_mul", "integer", "continuous", A("*", F("i"), F("j"), invalidValueTreatment="asMissing", defaultValue="-1")),
        ("i_div", "integer", "continuous", A("/", F("i"), F("j"), **am)),
        ("i_mod", "integer", "continuous", A("modulo", F("i"), F("j"), invalidValueTreatment="asMissing", defaultValue="999")),
        ("i_div_str", "string", "categorical", A("concat", A("/", F("i"), F("j"), **am), C("|"), A("/", F("i"), C("2.0", "double")), C("|"), A("threshold", F("i"), F("j")))),
        ("d_div", "double", "continuous", A("/", F("x"), F("z"), **am)),
        ("d_div_asis", "double", "continuous", A("/", F("x"), F("z"), invalidValueTreatment="asIs")),
        ("d_mod", "double", "continuous", A("modulo", F("x"), F("z"), **am)),
        ("mixed", "double", "continuous", A("+", F("i"), F("x"), mapMissingTo="0")),
        ("mixed_str", "string", "categorical", A("concat", A("*", F("i"), F("fl")), C(" "), A("-", F("fl"), F("x")), C(" "), A("*", F("fl"), C("3", "integer")))),
        ("f_mul", "float", "continuous", A("*", F("fl"), C("3", "integer"))),
        ("f_div", "float", "continuous", A("/", F("fl"), F("fl"), **am)),
        ("i_pow", "integer", "continuous", A("pow", F("j"), C("3", "integer"))),
        ("d_pow", "double", "continuous", A("pow", F("x"), F("z"), **am)),
        ("thr", "double", "continuous", A("threshold", F("x"), F("z"))),
        ("cmp_float", "string", "categorical", A("concat", A("lessThan", F("fl"), C("0.1", "double")), C("|"), A("greaterOrEqual", F("fl"), C("0.1")), C("|"), A("equal", F("fl"), C("0.1", "double")), C("|"), A("greaterThan", F("x"), F("fl")))),
        ("thr_str", "string", "categorical", A("concat", A("threshold", F("i"), F("j")), C("/"), A("threshold", F("x"), F("z")), C("/"), A("threshold", F("fl"), C("0.1", "float")))),
        ("miss_sum", "double", "continuous", A("+", F("x"), F("z"), defaultValue="-99")),
    ]
    fields = [cont("i", "integer", missingValueTreatment="asIs"), cont("j", "integer"), cont("x"), cont("z"), cont("fl", "float")]
    write_case(140, "functions-arithmetic", "+ - * / modulo pow threshold on 32-bit integers (truncating division, floor modulo, overflow and division by zero as undefined results under invalidValueTreatment asMissing with defaultValue), doubles (NaN results asMissing/asIs, infinities) and floats; result types shown through concat (3 vs 3.0); mapMissingTo and defaultValue on Apply.",
               fields, derived, rows, (0.5, [("mixed", 0.25), ("f_mul", -1.0)]))


def case_141():
    rnd = random.Random(141)
    xs = [0.0, -0.0, 0.5, -0.5, 1.5, 2.5, -1.5, -2.5, 0.49999999999999994, 1e-12, -1e-12, 1.0, -1.0, 3.0, 1e15 + 0.5,
          2147483647.4, -2147483648.4, 0.999, 0.001, 7.0, -3.75, 100.0, 0.1, 0.9999999]
    rows = [{"x": x, "p": rnd.choice([0.5, 0.025, 0.975, 1e-6, 0.3]), "k": rnd.randint(-5, 5), "f": rnd.choice(["2.5", "-2.5", "0.5", "1.25"])} for x in xs]
    for _ in range(80):
        rows.append({"x": rnd.choice([round(rnd.uniform(-10, 10), rnd.randint(0, 6)), round(rnd.uniform(-1, 1), 8), rnd.randint(-50, 50) + 0.5]),
                     "p": rnd.choice([round(rnd.uniform(0.0001, 0.9999), 6), 0.5]),
                     "k": rnd.randint(-100, 100),
                     "f": str(round(rnd.uniform(-20, 20), rnd.randint(0, 3)))})
    am = dict(invalidValueTreatment="asMissing")
    unary = ["log10", "ln", "ln1p", "sqrt", "exp", "expm1", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "erf", "stdNormalCDF", "stdNormalPDF"]
    derived = []
    for fn in unary:
        derived.append((f"{fn}_x", "double", "continuous", A(fn, F("x"), **am)))
    for fn in ["abs", "floor", "ceil", "round", "rint"]:
        derived.append((f"{fn}_x", "double", "continuous", A(fn, F("x"), **am)))
        derived.append((f"{fn}_f", "string", "categorical", A("concat", A(fn, F("f")), C("|"), A(fn, F("k")))))
    derived += [
        ("stdNormalIDF_p", "double", "continuous", A("stdNormalIDF", F("p"))),
        ("normalIDF_p", "double", "continuous", A("normalIDF", F("p"), C("10", "double"), C("2.5", "double"))),
        ("normalCDF_x", "double", "continuous", A("normalCDF", F("x"), C("1", "integer"), C("0.5", "double"))),
        ("normalPDF_x", "double", "continuous", A("normalPDF", F("x"), C("-1", "double"), C("3", "double"))),
        ("hypot_xk", "double", "continuous", A("hypot", F("x"), F("k"))),
        ("atan2_xk", "double", "continuous", A("x-atan2", F("x"), F("k"))),
        ("exp_f", "string", "categorical", A("concat", A("exp", F("f")), C("|"), A("sqrt", F("k"), **am))),
    ]
    fields = [cont("x"), cont("p"), cont("k", "integer"), cont("f", "float")]
    write_case(141, "functions-math", "elementary functions (log10 ln ln1p sqrt exp expm1, trigonometric and hyperbolic), abs/floor/ceil/round/rint on doubles, floats and integers (round halves up: -2.5 -> -2; rint to even; results typed as JPMML types them, shown through concat), erf, the normal distribution (CDF, PDF, IDF with mu/sigma), hypot and x-atan2; NaN results treated asMissing.",
               fields, derived, rows, (1.0, [("x", 0.5), ("abs_x", 0.25)]))


def case_142():
    rnd = random.Random(142)
    rows = []
    for _ in range(90):
        r = {}
        for n in ["a", "b", "c"]:
            r[n] = rnd.choice([None, rnd.randint(-9, 9), round(rnd.uniform(-5, 5), 3)]) if n != "b" else rnd.choice([None, rnd.randint(-1000, 1000)])
        r["f"] = rnd.choice([None, "0.1", "2.5", "-3.75"])
        rows.append(r)
    rows += [{"a": None, "b": None, "c": None, "f": None}, {"a": 1, "b": 2, "c": 3, "f": "4"}, {"a": -0.0, "b": 0, "c": 0.0, "f": "-0.0"}]
    derived = []
    for fn in ["min", "max", "sum", "avg", "product"]:
        derived.append((f"{fn}_abc", "double", "continuous", A(fn, F("a"), F("b"), F("c"))))
        derived.append((f"{fn}_b", "string", "categorical", A("concat", C("["), A(fn, F("b"), F("b")), C("]"), A(fn, F("f"), F("f")), C("]"), A(fn, F("a"), F("c")))))
        derived.append((f"{fn}_mixed", "string", "categorical", A("concat", A(fn, F("b"), F("f")), C("|"), A(fn, F("f"), F("a")))))
    derived += [
        ("sum_one", "double", "continuous", A("sum", F("a"))),
        ("avg_map", "double", "continuous", A("avg", F("a"), F("c"), mapMissingTo="-1")),
        ("max_default", "double", "continuous", A("max", F("a"), F("c"), defaultValue="42")),
    ]
    fields = [cont("a"), cont("b", "integer"), cont("c"), cont("f", "float")]
    write_case(142, "functions-aggregates", "min max sum avg product over several arguments: missing ones ignored (all missing: missing, then defaultValue), mapMissingTo when any is missing, result types of integers (avg a double) and floats shown through concat.",
               fields, derived, rows, (0.0, [("a", 1.0)]))


def case_143():
    rnd = random.Random(143)
    rows = []
    for _ in range(100):
        rows.append({
            "n": rnd.choice([0, 1, 2, -1, 10]),
            "d": rnd.choice([0.0, 1.0, 1.5, 2.0, -1.0, 10.0]),
            "s": rnd.choice(["a", "b", "1", "10", "A", "1.0", "true"]),
            "b": rnd.choice(["true", "false", "TRUE", "False", "1", "0.0"]),
            "o": rnd.choice(["low", "mid", "high"]),
            "m": rnd.choice([None, None, 1.0, 7.0, -2.5]),
        })
    derived = [
        ("eq_nd", "boolean", "categorical", A("equal", F("n"), F("d"))),
        ("eq_dn", "boolean", "categorical", A("equal", F("d"), F("n"))),
        ("eq_sn", "boolean", "categorical", A("equal", F("s"), F("n"))),
        ("ne_ds", "boolean", "categorical", A("notEqual", F("s"), C("1.0"))),
        ("eq_bn", "boolean", "categorical", A("equal", F("b"), C("1", "integer"))),
        ("eq_bs", "boolean", "categorical", A("equal", F("b"), C("TRUE"))),
        ("lt_nd", "boolean", "categorical", A("lessThan", F("n"), F("d"))),
        ("le_dn", "boolean", "categorical", A("lessOrEqual", F("d"), F("n"))),
        ("gt_dc", "boolean", "categorical", A("greaterThan", F("d"), C("1.5"))),
        ("ge_nc", "boolean", "categorical", A("greaterOrEqual", F("n"), C("1.5", "double"))),
        ("gt_ns", "boolean", "categorical", A("greaterThan", F("n"), C("0.5", "string"))),
        ("gt_bool", "boolean", "categorical", A("greaterThan", F("b"), C("0", "integer"))),
        ("lt_ord", "boolean", "categorical", A("lessThan", F("o"), C("low"))),
        ("in_n", "boolean", "categorical", A("isIn", F("n"), C("1", "integer"), C("2.0", "double"), C("10"))),
        ("in_s", "boolean", "categorical", A("isIn", F("s"), C("a"), C("1", "integer"), C("x"))),
        ("notin_m", "boolean", "categorical", A("isNotIn", F("m"), C("1", "integer"), C("", "double", missing=True))),
        ("in_missing", "boolean", "categorical", A("isIn", F("m"), C("7", "double"), C("", "double", missing=True))),
        ("in_plain", "boolean", "categorical", A("isIn", F("m"), C("7", "double"), C("-2.5", "double"))),
        ("and_or", "boolean", "categorical", A("or", A("and", F("b"), A("isNotMissing", F("m"))), A("not", A("isMissing", F("m"))), C("false", "boolean"))),
        ("and_num", "boolean", "categorical", A("and", A("greaterThan", F("n"), C("0", "integer")), C("1", "integer"), F("b"))),
        ("is_valid", "boolean", "categorical", A("isValid", F("m"))),
        ("is_not_valid", "boolean", "categorical", A("isNotValid", F("m"))),
        ("if2", "double", "continuous", A("if", A("isNotMissing", F("m")), F("m"))),
        ("if3", "string", "categorical", A("if", A("greaterThan", A("+", F("n"), F("m")), C("2", "integer"), mapMissingTo="false"), C("big"), F("s"))),
        ("if_map", "string", "categorical", A("if", A("isMissing", F("m")), F("m"), C("present"), mapMissingTo="none")),
        ("if_num", "double", "continuous", A("if", A("isMissing", F("m")), C("-1", "integer"), A("*", F("m"), C("0.5", "double")))),
        ("if_str_cond", "string", "categorical", A("if", F("b"), C("yes"), C("no"))),
    ]
    fields = [cont("n", "integer"), cont("d"), cat("s"), cat("b", "boolean"),
              ("o", "string", "ordinal", "", {}), cont("m")]
    functions = ["""\t<TransformationDictionary>
\t\t<DefineFunction name="scale" optype="continuous" dataType="double"><ParameterField name="v" dataType="double"/><ParameterField name="k" dataType="integer"/><Apply function="*"><FieldRef field="v"/><FieldRef field="k"/></Apply></DefineFunction>
\t\t<DefineFunction name="label" optype="categorical" dataType="string"><ParameterField name="v"/><Apply function="concat"><Constant>v=</Constant><FieldRef field="v"/></Apply></DefineFunction>
\t\t<DefineFunction name="median" optype="continuous" dataType="double"><ParameterField name="a"/><ParameterField name="b"/><Apply function="avg"><FieldRef field="a"/><FieldRef field="b"/></Apply></DefineFunction>
\t</TransformationDictionary>"""]
    extra = [
        ("if_type", "string", "categorical", A("concat", A("if", A("isMissing", F("m")), C("1", "integer"), F("m")), C("|"))),
        ("if_type2", "string", "categorical", A("concat", A("if", A("isMissing", F("m")), C("2.5", "double"), F("n")), C("|"))),
        ("udf_scale", "double", "continuous", A("scale", F("m"), C("3", "integer"), mapMissingTo="-7")),
        ("udf_label", "string", "categorical", A("label", F("n"), defaultValue="none")),
        ("udf_label_m", "string", "categorical", A("label", F("m"))),
        ("udf_median", "double", "continuous", A("median", F("m"), C("1", "integer"))),
        ("bool_text", "string", "categorical", A("concat", F("b"), C("|"), A("isMissing", F("m")))),
        ("sum_type", "string", "categorical", A("concat", A("sum", F("m"), F("n")), C("|"))),
    ]
    write_case(143, "functions-compare-logic", "equal/notEqual between integers, doubles, strings and booleans (the second converted to the first's type), lessThan..greaterOrEqual on numbers, booleans and an ordinal string, isIn/isNotIn with mixed-type and missing constants, and/or/not (0/1 numbers as booleans), isMissing/isNotMissing/isValid/isNotValid, if with two and three arguments and mapMissingTo; values whose type is only known when scored (the branch if takes, sum over the arguments present, a DefineFunction parameter without dataType) written as text; a DefineFunction named median (not a built-in for JPMML).",
               fields, derived, rows, (0.0, [("d", 1.0)]), extra_outputs=extra, functions=functions)


def case_144():
    rnd = random.Random(144)
    words = ["Hello World", "  padded  ", "", "ÄÖü straße", "a,b,c", "x1y22z333", "tab\there", "café", "MiXeD", "$dollar$", "a.b.c", "😀 emoji", "aaa"]
    rows = []
    for _ in range(90):
        rows.append({"s": rnd.choice(words + [None]), "p": rnd.randint(1, 14) if rnd.random() < 0.9 else None, "n": rnd.randint(0, 8),
                     "d": rnd.choice([1.0, 2.5, -3.0, 1e-5, 12345678.9, 1e21, 100.0]), "i": rnd.randint(-50, 50)})
    derived = [
        ("upper", "string", "categorical", A("uppercase", F("s", mapMissingTo="<na>"))),
        ("lower", "string", "categorical", A("lowercase", F("s", mapMissingTo="<NA>"))),
        ("trim", "string", "categorical", A("concat", C("["), A("trimBlanks", F("s", mapMissingTo="")), C("]"))),
        ("len", "integer", "continuous", A("stringLength", F("s", mapMissingTo=""))),
        ("sub", "string", "categorical", A("substring", F("s", mapMissingTo="-"), F("p", mapMissingTo="1"), F("n"))),
        ("cat_num", "string", "categorical", A("concat", F("d"), C("|"), F("i"), C("|"), A("*", F("i"), C("1.0", "double")), C("|"), F("s"))),
        ("cat_num_str", "string", "categorical", A("concat", C("v="), F("d"))),
        ("repl", "string", "categorical", A("replace", F("s", mapMissingTo=""), C("[aeiou]"), C("<$0>"))),
        ("repl_groups", "string", "categorical", A("replace", F("s", mapMissingTo=""), C("(\\w)(\\d+)"), C("$2$1"))),
        ("repl_dollar", "string", "categorical", A("replace", F("s", mapMissingTo=""), C("\\$"), C("$$"))),
        ("matches", "boolean", "categorical", A("matches", F("s", mapMissingTo=""), C("^[A-Za-z ]+$"))),
        ("repl_word", "string", "categorical", A("replace", F("s", mapMissingTo=""), C("\\w+"), C("<$0>"))),
        ("repl_space", "string", "categorical", A("replace", F("s", mapMissingTo=""), C("\\s|\\Q.\\E"), C("_"))),
        ("matches_word", "boolean", "categorical", A("matches", F("s", mapMissingTo=""), C("^\\w+\\W\\w+$"))),
        ("matches_any", "boolean", "categorical", A("matches", F("s", mapMissingTo=""), C("\\d{2}"))),
        ("num_upper", "string", "categorical", A("uppercase", F("d"))),
        ("num_len", "integer", "continuous", A("stringLength", F("d"))),
    ]
    fields = [cat("s"), cont("p", "integer"), cont("n", "integer"), cont("d"), cont("i", "integer")]
    write_case(144, "functions-strings", "uppercase, lowercase (Unicode), trimBlanks, stringLength (UTF-16 units), substring positions past the end, concat of numbers as Java writes them (1.0E-5, 1.23456789E7, integers), replace with Java replacement syntax ($0, groups, $$), matches (a match anywhere), string functions of numbers, FieldRef mapMissingTo.",
               fields, derived, rows, (0.0, [("d", 1.0)]))


def case_145():
    rnd = random.Random(145)
    rows = []
    specials = [0.0, -0.0, 0.125, 0.5, 1.5, 2.5, -2.5, 0.15, 0.005, 1234567.891, -9876.54321, 1e-7, 123456789012.0, 99.995, 0.045, 1e20,
                1e-5, 0.0001, 0.00009999995, 999999.5, 123456.0, 9.9999995, "Infinity", "-Infinity", 1e300, 5e-324, 0.95, 0.05, 2.0 ** 60, 2.0 ** 70, 123456789.0 * 1024]
    for d in specials:
        rows.append({"d": d, "i": rnd.randint(-99999, 99999), "f": rnd.choice(["0.1", "2.5", "-1.75", "3.3333333"])})
    for _ in range(70):
        rows.append({"d": round(rnd.uniform(-1e6, 1e6), rnd.randint(0, 7)), "i": rnd.choice([0, -1, 255, rnd.randint(-10**9, 10**9)]),
                     "f": str(round(rnd.uniform(-1000, 1000), rnd.randint(0, 4)))})
    derived = []
    dpats = ["%.2f", "%.0f", "%f", "%10.3f", "%-10.1f|", "%+.1f", "%,.2f", "%(.2f", "%08.2f", "% .3f", "%e", "%.3E", "%g", "%.3g", "%s", "%.4s", "v=%s%%", "%12.4e",
             "%.0e", "%G", "%.1g", "%#.0f", "%1$.1f/%<.3e", "%S", "%b|%n", "%h"]
    ipats = ["%d", "%5d", "%-5d|", "%05d", "%,d", "%+d", "%(d", "%x", "%X", "%#x", "%o", "%s", "%08X", "% d"]
    for k, p in enumerate(dpats):
        derived.append((f"fd{k}", "string", "categorical", A("formatNumber", F("d"), C(p))))
    for k, p in enumerate(ipats):
        derived.append((f"fi{k}", "string", "categorical", A("formatNumber", F("i"), C(p))))
    for k, p in enumerate(["%.3f", "%s", "%e"]):
        derived.append((f"ff{k}", "string", "categorical", A("formatNumber", F("f"), C(p))))
    fields = [cont("d"), cont("i", "integer"), cont("f", "float")]
    write_case(145, "functions-format-number", "formatNumber with Java's String.format: %f/%e/%g/%s of doubles and floats (half-up rounding of the shortest digits, grouping, parentheses, signs, zero padding, widths), %d/%x/%X/%o/%s of integers (two's complement hex of negatives).",
               fields, derived, rows, (0.0, [("d", 1.0)]))


def case_146():
    rnd = random.Random(146)
    rows = []
    fixed = [("2024-02-29", "00:00:00", "2024-02-29T23:59:59"), ("1970-01-01", "12:00", "1970-01-01T00:00:00"),
             ("1960-01-01", "23:59:59", "1959-12-31T23:59:59"), ("2000-12-31", "06:05:04.5", "2000-01-01T12:30:45.75"),
             ("1999-03-01", "13:45:30", "2038-01-19T03:14:07"), ("1900-03-01", "00:00:01", "1969-12-31T23:59:59.5")]
    for dte, tm, dtm in fixed:
        rows.append({"d": dte, "t": tm, "dt": dtm, "dd": dte, "ts": "1:02:03", "ds": dtm[:19], "yr": 1990})
    for _ in range(80):
        y = rnd.randint(1975, 2035)
        m = rnd.randint(1, 12)
        day = rnd.randint(1, 28)
        h, mi, s = rnd.randint(0, 23), rnd.randint(0, 59), rnd.randint(0, 59)
        rows.append({"d": rnd.choice([f"{y:04d}-{m:02d}-{day:02d}", None]), "t": f"{h:02d}:{mi:02d}:{s:02d}",
                     "dt": f"{y:04d}-{m:02d}-{day:02d}T{h:02d}:{mi:02d}:{s:02d}", "dd": f"{y:04d}-{m:02d}-{day:02d}",
                     "ts": rnd.choice([f"{rnd.randint(0, 99)}:{mi:02d}:{s:02d}", f"-{rnd.randint(0, 9)}:{mi:02d}:{s:02d}"]),
                     "ds": f"{y:04d}-{m:02d}-{day:02d}T{h:02d}:{mi:02d}:{s:02d}", "yr": rnd.choice([1990, 2000, 2010, 2024])})
    derived = [
        ("days1970", "integer", "continuous", A("dateDaysSinceYear", F("d", mapMissingTo="2000-01-01"), C("1970", "integer"))),
        ("days_yr", "integer", "continuous", A("dateDaysSinceYear", F("dt"), F("yr"))),
        ("secs_yr", "integer", "continuous", A("dateSecondsSinceYear", F("dt"), F("yr"))),
        ("secs_mid", "integer", "continuous", A("dateSecondsSinceMidnight", F("t"))),
        ("secs_mid_dt", "integer", "continuous", A("dateSecondsSinceMidnight", F("dt"))),
        ("fmt_date", "string", "categorical", A("formatDatetime", F("d", mapMissingTo="1999-12-31T00:00:00"), C("%Y/%m/%d %A %B %j %y %e %b %a"))),
        ("fmt_dt", "string", "categorical", A("formatDatetime", F("dt"), C("%d.%m.%Y %H:%M:%S %I%p %k %l %F %T %R %D"))),
        ("fmt_time", "string", "categorical", A("formatDatetime", F("t"), C("%H:%M %L %N"))),
        ("fmt_pct", "string", "categorical", A("formatDatetime", F("d", mapMissingTo="2000-02-01T00:00:00"), C("100%% on %Y, %%d"))),
        ("fmt_text", "string", "categorical", A("formatDatetime", C("2020-05-17T08:09:10"), C("%A %p"))),
        ("cmp_time", "boolean", "categorical", A("greaterThan", F("t"), C("12:00:00"))),
        ("cmp_dt", "boolean", "categorical", A("lessOrEqual", F("dt"), C("2000-01-01T12:30:45.75"))),
        ("eq_time", "boolean", "categorical", A("equal", F("t"), C("12:00:00"))),
        ("ts_ln", "double", "continuous", A("ln", F("ts"), invalidValueTreatment="asMissing")),
        ("dd_gt", "boolean", "categorical", A("greaterThan", F("dd"), C("10000", "integer"))),
        ("dd_eq", "boolean", "categorical", A("equal", F("dd"), C("2024-02-29"))),
    ]
    fields = [("d", "date", "ordinal", "", {}), ("t", "time", "ordinal", "", {}), ("dt", "dateTime", "ordinal", "", {}),
              cont("dd", "dateDaysSince[1970]"), cont("ts", "timeSeconds"), cont("ds", "dateTimeSecondsSince[1980]"), cont("yr", "integer")]
    write_case(146, "functions-dates", "date, time and dateTime inputs (leap day, 1959-1960 epochs, fractional seconds) and the period types dateDaysSince[1970], timeSeconds (negative, hours past 23) and dateTimeSecondsSince[1980] as regression inputs; dateDaysSinceYear, dateSecondsSinceYear, dateSecondsSinceMidnight, formatDatetime (C-style %Y %m %d %H ... patterns read as Java's %1$t conversions, %% literal), comparisons of dates with constants, dates written as strings.",
               fields, derived, rows, (0.0, [("dd", 0.001), ("ts", 0.5), ("ds", 1e-6)]))


def error_cases():
    """Documents and rows that JPMML refuses: the function is named in the error."""
    rows = [{"x": 1.5, "i": 2147483646, "s": "a"}, {"x": 2.0, "i": 2147483647, "s": "b"}, {"x": None, "i": 1, "s": "c"}]
    fields = [cont("x"), cont("i", "integer"), cat("s")]

    def one(num, slug, notes, expr, dt="double", err=None, rows=rows, fields=fields):
        write_case(num, slug, notes, fields, [("v", dt, "continuous" if dt == "double" else "categorical", expr)], rows,
                   (0.0, [("x", 1.0)]), expect_error=err or {"stage": "model"})

    one(150, "functions-error-median", "median is not among JPMML's functions (nor defined by a DefineFunction): the document is refused, naming it.",
        A("median", F("x"), F("i")))
    one(151, "functions-error-x-median", "x-median: JPMML reads an x- name as the standard one, and median is not among its functions: the document is refused.",
        A("x-median", F("x"), F("i")))
    one(152, "functions-error-arity", "substring with two arguments: refused when the document is loaded.",
        A("substring", F("s"), C("1", "integer")), dt="string")
    one(153, "functions-error-missing-argument", "ln of a missing value: JPMML fails the record (only the arithmetic, aggregate, concat, is... and isIn functions take missing arguments).",
        A("ln", F("x")), err={"stage": "row", "row": 3, "line": 4, "field": "ln"})
    one(154, "functions-error-integer-overflow", "2147483647 + 1 in 32-bit integers is an undefined result; invalidValueTreatment returnInvalid (the default) fails the record.",
        A("+", F("i"), C("1", "integer")), dt="integer", err={"stage": "row", "row": 2, "line": 3, "field": "+"})
    one(155, "functions-error-categorical-order", "lessThan of a categorical string: JPMML cannot order categorical values and fails the record.",
        A("lessThan", F("s"), C("b")), dt="boolean", err={"stage": "row", "row": 1, "line": 2, "field": "lessThan"})
    write_case(156, "functions-error-epoch-zero", "dataType dateDaysSince[0]: JPMML does not implement the epoch of year 0 (every record using it fails); the document is refused.",
               [cont("x"), cont("d", "dateDaysSince[0]")], [("v", "double", "continuous", A("*", F("x"), C("2", "integer")))],
               [{"x": 1.0, "d": "2020-01-01"}], (0.0, [("x", 1.0), ("d", 1.0)]), expect_error={"stage": "model"})

    write_case(158, "functions-error-period-outlier", "a timeSeconds field with outliers=asExtremeValues: JPMML's replacement of an outlier is a plain number, not a timeSeconds value, and the record fails.",
               [cont("x"), cont("dur", "timeSeconds", outliers="asExtremeValues", lowValue="0", highValue="86400")],
               [("v", "double", "continuous", A("ln1p", F("dur")))],
               [{"x": 1.0, "dur": "1:00:00"}, {"x": 2.0, "dur": "23:59:59"}, {"x": 3.0, "dur": "24:00:01"}],
               (0.0, [("x", 1.0), ("v", 1.0)]), expect_error={"stage": "row", "row": 3, "line": 4, "field": "dur"})
    write_case(159, "functions-error-epoch-2000", "dataType dateDaysSince[2000]: not a PMML 4.4 type; JPMML reads no data type for the field (every record using it fails); the document is refused.",
               [cont("x"), cont("d", "dateDaysSince[2000]")], [("v", "double", "continuous", A("*", F("x"), C("2", "integer")))],
               [{"x": 1.0, "d": "2020-01-01"}], (0.0, [("x", 1.0), ("d", 1.0)]), expect_error={"stage": "model"})


def case_147():
    """Extension names (x-...) in a PMML 4.3 document and a PMML 4.1 document's Apply@mapMissingTo."""
    rnd = random.Random(147)
    rows = [{"x": rnd.choice([None, round(rnd.uniform(-3, 3), 3), 0.5, -0.5, 2.5]), "i": rnd.randint(-20, 20), "s": rnd.choice(["abc", " ", "hello"])} for _ in range(60)]
    am = dict(invalidValueTreatment="asMissing")
    derived = [
        ("rint", "double", "continuous", A("x-rint", F("x"), mapMissingTo="-100")),
        ("expm1", "double", "continuous", A("x-expm1", F("x"), mapMissingTo="0")),
        ("ln1p", "double", "continuous", A("x-ln1p", A("abs", F("x"), mapMissingTo="1"), **am)),
        ("hypot", "double", "continuous", A("x-hypot", F("i"), C("3", "integer"))),
        ("mod", "integer", "continuous", A("x-modulo", F("i"), C("-7", "integer"))),
        ("len", "integer", "continuous", A("x-stringLength", F("s"))),
        ("sinh", "double", "continuous", A("x-sinh", F("i"))),
        ("atan2", "double", "continuous", A("x-atan2", F("i"), C("2.0", "double"))),
        ("valid", "boolean", "categorical", A("x-isValid", F("x"))),
    ]
    fields = [cont("x"), cont("i", "integer"), cat("s")]
    write_case(147, "functions-extension-names", "a PMML 4.3 document with the x- names of functions PMML 4.4 adopted (x-rint, x-expm1, x-ln1p, x-hypot, x-modulo, x-stringLength, x-sinh, x-isValid), read as the standard ones, and x-atan2; Apply mapMissingTo.",
               fields, derived, rows, (0.0, [("i", 1.0)]), version="4.3")
    rows = [{"x": rnd.choice([None, 1.5, -2.0, 4.0]), "i": rnd.randint(-5, 5), "s": "a"} for _ in range(40)]
    derived = [
        ("plus", "double", "continuous", A("+", F("x"), C("1", "integer"), mapMissingTo="-1")),
        ("sqrt", "double", "continuous", A("sqrt", A("+", F("x"), F("i")), mapMissingTo="-2", invalidValueTreatment="asMissing")),
    ]
    write_case(148, "functions-pmml41-mapmissingto", "a PMML 4.1 document: JPMML reads Apply@mapMissingTo as defaultValue (a missing result is replaced; a missing argument still reaches the function).",
               fields, derived, rows, (0.0, [("i", 1.0)]), version="4.1")


def case_149():
    rnd = random.Random(149)
    rows = []
    for _ in range(120):
        rows.append({
            "v": rnd.choice([None, -5.0, 0.0, 50.5, 100.0, 100.5, 1e9, round(rnd.uniform(-20, 120), 2)]),
            "c": rnd.choice([None, "a", "b", "c", "zzz", "A"]),
            "o": rnd.choice(["low", "mid", "high", "mid"]),
            "w": rnd.choice([None, 0, 1, 5, 10, 11, 3]),
            "n": rnd.choice([None, 2.5, -1.0]),
        })
    derived = [
        ("valid_v", "boolean", "categorical", A("isValid", F("v"))),
        ("notvalid_v", "boolean", "categorical", A("isNotValid", F("v"))),
        ("valid_c", "boolean", "categorical", A("isValid", F("c"))),
        ("notvalid_c", "boolean", "categorical", A("isNotValid", F("c"))),
        ("valid_w", "boolean", "categorical", A("isValid", F("w"))),
        ("notvalid_w", "boolean", "categorical", A("isNotValid", F("w"))),
        ("valid_n", "boolean", "categorical", A("isValid", F("n"))),
        ("v_plus", "double", "continuous", A("+", F("v"), C("1", "integer"))),
        ("valid_derived", "boolean", "categorical", A("isValid", F("v_plus"))),
        ("lt_o", "boolean", "categorical", A("lessThan", F("o"), C("mid"))),
        ("ge_o", "boolean", "categorical", A("greaterOrEqual", F("o"), C("high"))),
        ("consts", "string", "categorical", A("concat", C("1e5"), C("|"), C("2.50"), C("|"), C("7"), C("|"), C("-INF"), C("|"), C("0.0"), C("|"), C("", "integer"))),
    ]
    fields = [cont("v", "double", '<Interval closure="closedClosed" leftMargin="0" rightMargin="100"/>', invalidValueTreatment="asIs"),
              cat("c", "string", '<Value value="a"/><Value value="b"/><Value value="c"/>', invalidValueTreatment="asIs"),
              ("o", "string", "ordinal", '<Value value="low"/><Value value="mid"/><Value value="high"/>', {}),
              cont("w", "integer", '<Interval closure="closedClosed" leftMargin="1" rightMargin="10"/>', invalidValueTreatment="asMissing"),
              cont("n", "double", "", missingValueReplacement="0.5", missingValueTreatment="asValue")]
    write_case(149, "functions-validity-ordinal", "isValid/isNotValid of input fields with declared Intervals and Values whose invalid values are kept (invalidValueTreatment asIs) or made missing, of replaced missing values and of derived values; lessThan/greaterOrEqual of an ordinal field ordered by its declared values; the types JPMML infers for Constants without dataType (1e5 is a string, 2.50 a double, 7 an integer, -INF a double) and an empty typed Constant (missing).",
               fields, derived, rows, (0.0, [("n", 1.0)]))


def case_157():
    """A TreeModel splitting on dates, times and periods."""
    rnd = random.Random(157)
    rows = []
    for _ in range(150):
        y, m, d = rnd.randint(1995, 2025), rnd.randint(1, 12), rnd.randint(1, 28)
        h, mi, s = rnd.randint(0, 23), rnd.randint(0, 59), rnd.randint(0, 59)
        rows.append({
            "day": rnd.choice([None, f"{y:04d}-{m:02d}-{d:02d}", "2010-06-15", "2020-02-29"]),
            "at": rnd.choice([f"{h:02d}:{mi:02d}:{s:02d}", "12:00:00", "08:30"]),
            "stamp": f"{y:04d}-{m:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}",
            "since": rnd.choice([None, f"{y:04d}-{m:02d}-{d:02d}"]),
            "dur": f"{rnd.randint(0, 25)}:{mi:02d}:{s:02d}",
        })
    x = ['<?xml version="1.0" encoding="UTF-8"?>',
         '<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4">',
         '\t<Header description="Hand-written: a TreeModel on date, time and period fields"/>',
         '\t<DataDictionary>',
         '\t\t<DataField name="day" optype="ordinal" dataType="date"/>',
         '\t\t<DataField name="at" optype="ordinal" dataType="time"/>',
         '\t\t<DataField name="stamp" optype="ordinal" dataType="dateTime"/>',
         '\t\t<DataField name="since" optype="continuous" dataType="dateDaysSince[1980]"/>',
         '\t\t<DataField name="dur" optype="continuous" dataType="timeSeconds"/>',
         '\t\t<DataField name="risk" optype="continuous" dataType="double"/>',
         '\t</DataDictionary>',
         '\t<TreeModel functionName="regression" noTrueChildStrategy="returnLastPrediction">',
         '\t\t<MiningSchema>',
         '\t\t\t<MiningField name="risk" usageType="target"/>',
         '\t\t\t<MiningField name="day" missingValueReplacement="2000-01-01" missingValueTreatment="asValue"/>',
         '\t\t\t<MiningField name="at"/>',
         '\t\t\t<MiningField name="stamp"/>',
         '\t\t\t<MiningField name="since"/>',
         '\t\t\t<MiningField name="dur" outliers="asExtremeValues" lowValue="0" highValue="86400"/>',
         '\t\t</MiningSchema>',
         '\t\t<Output>',
         '\t\t\t<OutputField name="risk_out" feature="predictedValue" dataType="double" optype="continuous"/>',
         f'\t\t\t<OutputField name="age_days" feature="transformedValue" dataType="integer" optype="continuous">{A("dateDaysSinceYear", F("day"), C("1995", "integer"))}</OutputField>',
         f'\t\t\t<OutputField name="stamp_secs" feature="transformedValue" dataType="double" optype="continuous">{A("dateSecondsSinceYear", F("stamp"), C("2000", "integer"))}</OutputField>',
         f'\t\t\t<OutputField name="at_secs" feature="transformedValue" dataType="integer" optype="continuous">{A("dateSecondsSinceMidnight", F("at"))}</OutputField>',
         f'\t\t\t<OutputField name="label" feature="transformedValue" dataType="string" optype="categorical">{A("formatDatetime", F("stamp"), C("%a %d %b %Y, %I:%M %p"))}</OutputField>',
         f'\t\t\t<OutputField name="since_x2" feature="transformedValue" dataType="double" optype="continuous">{A("sqrt", F("since"), invalidValueTreatment="asMissing", mapMissingTo="-1")}</OutputField>',
         f'\t\t\t<OutputField name="dur_hours" feature="transformedValue" dataType="double" optype="continuous">{A("ln1p", F("dur"))}</OutputField>',
         '\t\t</Output>',
         '\t\t<Node score="0">',
         '\t\t\t<True/>',
         '\t\t\t<Node score="1">',
         '\t\t\t\t<SimplePredicate field="day" operator="lessThan" value="2010-06-15"/>',
         '\t\t\t\t<Node score="11"><SimplePredicate field="at" operator="greaterOrEqual" value="12:00:00"/></Node>',
         '\t\t\t\t<Node score="12"><SimplePredicate field="since" operator="greaterThan" value="1000"/></Node>',
         '\t\t\t\t<Node score="13"><True/></Node>',
         '\t\t\t</Node>',
         '\t\t\t<Node score="2">',
         '\t\t\t\t<SimplePredicate field="stamp" operator="lessOrEqual" value="2020-02-29T12:00:00"/>',
         '\t\t\t\t<Node score="21"><SimplePredicate field="dur" operator="lessThan" value="36000"/></Node>',
         '\t\t\t\t<Node score="22"><SimpleSetPredicate field="day" booleanOperator="isIn"><Array type="string">2010-06-15 2020-02-29</Array></SimpleSetPredicate></Node>',
         '\t\t\t</Node>',
         '\t\t\t<Node score="3"><SimplePredicate field="day" operator="equal" value="2020-02-29"/></Node>',
         '\t\t\t<Node score="4"><SimplePredicate field="since" operator="isMissing"/></Node>',
         '\t\t</Node>',
         '\t</TreeModel>',
         '</PMML>']
    name = "157-functions-dates-tree"
    dd = FIXTURES / name
    dd.mkdir(parents=True, exist_ok=True)
    (dd / "model.pmml").write_text("\n".join(x) + "\n")
    header = ["day", "at", "stamp", "since", "dur"]
    with open(dd / "input.csv", "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        for r in rows:
            w.writerow(["" if r.get(h) is None else r.get(h) for h in header])
    notes = "a TreeModel splitting on a date (missing replaced by a date), a time, a dateTime, dateDaysSince[1980] and timeSeconds (outliers asExtremeValues) with SimplePredicate and SimpleSetPredicate; Output fields applying the date functions, formatDatetime and math on periods."
    (dd / "case.json").write_text(json.dumps({"name": name, "suite": "styx", "family": "functions",
                                             "source": "hand-written PMML (tests/oracle/make_functions.py): " + notes, "notes": notes}, indent=1) + "\n")


CASES = [case_140, case_141, case_142, case_143, case_144, case_145, case_146, case_147, case_149, case_157, error_cases]

if __name__ == "__main__":
    for c in CASES:
        c()
