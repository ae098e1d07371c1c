"""Oracle cases of the fixtures' models on mutated inputs: each row a random row of the
source case's input with some cells replaced by edge texts (blanks, `true`, `NaN`, `inf`,
`1e308`, type suffixes, other case, a sign...), so that JPMML's reading of odd cells and its
handling of the values they give are compared, not only of the values exporters write.

Usage: python make_mutated.py OUT_DIR SEED [CASE_PREFIX...]
  writes OUT_DIR/<case> (model.pmml, input.csv, case.json) for each source case under
  ../fixtures whose name starts with a prefix (all without one); score them with jpmml.py.
The committed cases 183-190, 192 and 193 were made with seed 1, 221 with seed 6, and renamed
(see their case.json).
"""
import csv, io, json, random, shutil, sys
from pathlib import Path

src = Path(__file__).resolve().parent.parent / "fixtures"
out = Path(sys.argv[1])
seed = int(sys.argv[2])
names = sys.argv[3:]
EDGE = ["", "NaN", "abc", " 1.5", "1.5 ", "-0", "-0.0", "1e308", "-1e308", "0", "1E2", "+3", "3.",
        ".5", "007", "inf", "Infinity", "-INF", "true", "TRUE", "1e-320", "4.9e-324", "2147483648",
        "-2147483649", "9007199254740993", "0.1", "N/A", "null", "1,5", "  "]
for d in sorted(src.iterdir()):
    if names and not any(d.name.startswith(n) for n in names):
        continue
    case = json.loads((d / "case.json").read_text()) if (d / "case.json").exists() else {}
    if case.get("expect_error") or not (d / "input.csv").exists():
        continue
    text = (d / "input.csv").read_text()
    delim = max([",", ";", "\t"], key=lambda c: text.splitlines()[0].count(c))
    rows = list(csv.reader(io.StringIO(text), delimiter=delim))
    header, body = rows[0], rows[1:]
    if not body or any(k in case for k in ("group",)):
        continue
    rng = random.Random(f"{seed}-{d.name}")
    new = []
    for i in range(150):
        r = list(rng.choice(body))
        for j, h in enumerate(header):
            if h == "Id" or j >= len(r):
                continue
            p = rng.random()
            if p < 0.12:
                r[j] = rng.choice(EDGE)
            elif p < 0.16 and r[j]:
                r[j] = rng.choice([r[j].upper(), r[j].lower(), " " + r[j], r[j] + ".0", "-" + r[j]])
        if "Id" in header:
            r[header.index("Id")] = f"m{i}"
        new.append(r)
    o = out / d.name
    if o.exists():
        shutil.rmtree(o)
    o.mkdir(parents=True)
    shutil.copy(d / "model.pmml", o / "model.pmml")
    for k in ("columns", "dropped_examples", "oracle"):
        case.pop(k, None)
    (o / "case.json").write_text(json.dumps(case, indent=1))
    b = io.StringIO()
    w = csv.writer(b, delimiter=delim, lineterminator="\n")
    w.writerow(header)
    w.writerows(new)
    (o / "input.csv").write_text(b.getvalue())
