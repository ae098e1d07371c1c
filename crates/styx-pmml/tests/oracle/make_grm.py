"""Writes the hand-written GeneralRegressionModel and Scorecard conformance cases (120-139).

No exporter makes these documents, so they are written here by hand: every modelType
JPMML-Evaluator scores, every link function, offsets and trials, factor levels, contrast
matrices, covariate powers and interactions, Cox baseline hazards with and without strata,
and scorecards with reason codes. Each case gets model.pmml, input.csv (random rows with
missing, invalid and out-of-range cells, seeded) and case.json; then run jpmml.py on it for
expected.csv:

    python make_grm.py [CASE_NUMBER...]       (all cases without arguments)
    python jpmml.py ../fixtures/12*-* ../fixtures/13*-*
"""

import csv
import json
import random
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4">
  <Header description="{description}">
    <Application name="styx hand-written PMML" version="1"/>
  </Header>
"""

REGIONS = ["north", "south", "east", "west"]


def cells(rng, spec, n):
    """Rows of input cells. spec: list of (name, kind, args); kinds: num (lo, hi, digits),
    int (lo, hi), cat (values). About 6% of cells are empty, about 3% invalid."""
    rows = []
    for _ in range(n):
        row = []
        for name, kind, args in spec:
            u = rng.random()
            if u < 0.06:
                row.append("")
                continue
            if kind == "num":
                lo, hi, digits = args
                if u < 0.09:
                    row.append(rng.choice(["n/a", "abc", str(round(hi * 3, digits)), str(round(lo - (hi - lo), digits))]))
                else:
                    row.append(str(round(rng.uniform(lo, hi), digits)))
            elif kind == "int":
                lo, hi = args
                if u < 0.08:
                    row.append(rng.choice(["x", str(hi * 4)]))
                else:
                    row.append(str(rng.randint(lo, hi)))
            elif kind == "pos":
                # A positive number that must be present (offsets, times): rarely missing.
                lo, hi, digits = args
                row.append(str(round(rng.uniform(lo, hi), digits)) if u > 0.02 else "")
            else:
                values = args
                if u < 0.09:
                    row.append(rng.choice(["mars", "NORTH"]))
                else:
                    row.append(rng.choice(values))
        rows.append(row)
    return rows


ONLY = set()


def write_case(number, slug, description, pmml, spec, rows, meta, seed, script="make_grm.py"):
    if ONLY and number not in ONLY:
        return
    name = f"{number}-{slug}"
    d = FIXTURES / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "model.pmml").write_text(HEADER.format(description=description) + pmml + "</PMML>\n")
    rng = random.Random(seed)
    data = cells(rng, spec, rows)
    with open(d / "input.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["Id"] + [s[0] for s in spec])
        for i, r in enumerate(data):
            w.writerow([f"r{i + 1:03d}"] + r)
    case = {
        "name": name,
        "suite": "styx",
        "source": f"hand-written PMML (tests/oracle/{script}): " + description,
        "seed": seed,
        "delimiter": "comma",
    }
    case.update(meta)
    (d / "case.json").write_text(json.dumps(case, indent=1) + "\n")


# ---------------------------------------------------------------------------------------
# General regression: shared pieces

DD_REG = """  <DataDictionary>
    <DataField name="age" optype="continuous" dataType="double">
      <Interval closure="closedClosed" leftMargin="18" rightMargin="90"/>
    </DataField>
    <DataField name="income" optype="continuous" dataType="double"/>
    <DataField name="region" optype="categorical" dataType="string">
      <Value value="north"/><Value value="south"/><Value value="east"/><Value value="west"/>
    </DataField>
    <DataField name="visits" optype="continuous" dataType="integer"/>
    <DataField name="exposure" optype="continuous" dataType="double"/>
    <DataField name="n" optype="continuous" dataType="integer"/>
    <DataField name="{target}" optype="continuous" dataType="double"/>
  </DataDictionary>
"""

SPEC_REG = [
    ("age", "num", (18, 90, 1)),
    ("income", "num", (10, 120, 2)),
    ("region", "cat", REGIONS),
    ("visits", "int", (0, 12)),
    ("exposure", "pos", (0.2, 3.0, 3)),
    ("n", "int", (1, 6)),
]

SCHEMA_REG = """    <MiningSchema>
      <MiningField name="{target}" usageType="target"/>
      <MiningField name="age" missingValueReplacement="45" invalidValueTreatment="asMissing" outliers="asExtremeValues" lowValue="20" highValue="80"/>
      <MiningField name="income" invalidValueTreatment="asMissing"/>
      <MiningField name="region" invalidValueTreatment="asIs"/>
      <MiningField name="visits" missingValueReplacement="2" invalidValueTreatment="asMissing"/>
{extra}    </MiningSchema>
"""

PARAMS_REG = """    <ParameterList>
      <Parameter name="p0" label="Intercept"/>
      <Parameter name="p1" label="age"/>
      <Parameter name="p2" label="age^2"/>
      <Parameter name="p3" label="region=north"/>
      <Parameter name="p4" label="region=south"/>
      <Parameter name="p5" label="region=east"/>
      <Parameter name="p6" label="income"/>
      <Parameter name="p7" label="visits*region=west"/>
      <Parameter name="p8" label="sqrt(income)"/>
    </ParameterList>
    <FactorList>
      <Predictor name="region"/>
    </FactorList>
    <CovariateList>
      <Predictor name="age"/>
      <Predictor name="income"/>
      <Predictor name="visits"/>
    </CovariateList>
    <PPMatrix>
      <PPCell value="1" predictorName="age" parameterName="p1"/>
      <PPCell value="2" predictorName="age" parameterName="p2"/>
      <PPCell value="north" predictorName="region" parameterName="p3"/>
      <PPCell value="south" predictorName="region" parameterName="p4"/>
      <PPCell value="east" predictorName="region" parameterName="p5"/>
      <PPCell value="1" predictorName="income" parameterName="p6"/>
      <PPCell value="1" predictorName="visits" parameterName="p7"/>
      <PPCell value="west" predictorName="region" parameterName="p7"/>
      <PPCell value="0.5" predictorName="income" parameterName="p8"/>
    </PPMatrix>
"""


def param_matrix(betas, df=True):
    lines = ["    <ParamMatrix>"]
    for i, b in enumerate(betas):
        extra = f' df="1"' if df else ""
        lines.append(f'      <PCell parameterName="p{i}" beta="{b}"{extra}/>')
    lines.append("    </ParamMatrix>")
    return "\n".join(lines) + "\n"


def output_reg(target, extra=""):
    return f"""    <Output>
      <OutputField name="predicted_{target}" optype="continuous" dataType="double" feature="predictedValue"/>
{extra}    </Output>
"""


def grm_regression_case(number, slug, description, model_attrs, betas, schema_extra="", targets="", seed=0, notes="", math=""):
    target = "y"
    pmml = DD_REG.format(target=target)
    pmml += f'  <GeneralRegressionModel modelName="{slug}" functionName="regression" {model_attrs}{math}>\n'
    pmml += SCHEMA_REG.format(target=target, extra=schema_extra)
    pmml += output_reg(target)
    pmml += targets
    pmml += PARAMS_REG
    pmml += param_matrix(betas)
    pmml += "  </GeneralRegressionModel>\n"
    write_case(number, slug, description, pmml, SPEC_REG, 240, {"family": "general_regression", "notes": notes}, seed)


# ---------------------------------------------------------------------------------------
# General regression: classification pieces

def dd_class(values, optype="categorical"):
    vs = "".join(f'<Value value="{v}"/>' for v in values)
    return f"""  <DataDictionary>
    <DataField name="age" optype="continuous" dataType="double"/>
    <DataField name="income" optype="continuous" dataType="double"/>
    <DataField name="region" optype="categorical" dataType="string">
      <Value value="north"/><Value value="south"/><Value value="east"/><Value value="west"/>
    </DataField>
    <DataField name="visits" optype="continuous" dataType="integer"/>
    <DataField name="exposure" optype="continuous" dataType="double"/>
    <DataField name="n" optype="continuous" dataType="integer"/>
    <DataField name="label" optype="{optype}" dataType="string">
      {vs}
    </DataField>
  </DataDictionary>
"""


SCHEMA_CLASS = """    <MiningSchema>
      <MiningField name="label" usageType="target"/>
      <MiningField name="age" invalidValueTreatment="asMissing" outliers="asMissingValues" lowValue="18" highValue="90"/>
      <MiningField name="income" missingValueReplacement="50" invalidValueTreatment="asMissing"/>
      <MiningField name="region" invalidValueTreatment="asMissing"/>
      <MiningField name="visits" invalidValueTreatment="asMissing"/>
{extra}    </MiningSchema>
"""


def output_class(values):
    lines = ["    <Output>",
             '      <OutputField name="predicted_label" optype="categorical" dataType="string" feature="predictedValue"/>',
             '      <OutputField name="probability" optype="continuous" dataType="double" feature="probability"/>']
    for v in values:
        lines.append(f'      <OutputField name="probability({v})" optype="continuous" dataType="double" feature="probability" value="{v}"/>')
    lines.append("    </Output>")
    return "\n".join(lines) + "\n"


PARAMS_CLASS = """    <ParameterList>
      <Parameter name="c0" label="Intercept"/>
      <Parameter name="c1" label="age"/>
      <Parameter name="c2" label="region=north"/>
      <Parameter name="c3" label="region=south"/>
      <Parameter name="c4" label="income"/>
      <Parameter name="c5" label="visits^2"/>
      <Parameter name="c6" label="age*income"/>
    </ParameterList>
    <FactorList>
      <Predictor name="region"/>
    </FactorList>
    <CovariateList>
      <Predictor name="age"/>
      <Predictor name="income"/>
      <Predictor name="visits"/>
    </CovariateList>
    <PPMatrix>
      <PPCell value="1" predictorName="age" parameterName="c1"/>
      <PPCell value="north" predictorName="region" parameterName="c2"/>
      <PPCell value="south" predictorName="region" parameterName="c3"/>
      <PPCell value="1" predictorName="income" parameterName="c4"/>
      <PPCell value="2" predictorName="visits" parameterName="c5"/>
      <PPCell value="1" predictorName="age" parameterName="c6"/>
      <PPCell value="1" predictorName="income" parameterName="c6"/>
    </PPMatrix>
"""


def pcells(betas, category=None, names=None):
    out = []
    for i, b in enumerate(betas):
        if b is None:
            continue
        name = names[i] if names else f"c{i}"
        tc = f' targetCategory="{category}"' if category is not None else ""
        out.append(f'      <PCell{tc} parameterName="{name}" beta="{b}" df="1"/>')
    return out


def grm_class_case(number, slug, description, model_attrs, values, param_rows, seed, notes,
                   schema_extra="", targets="", optype="categorical", pp=PARAMS_CLASS):
    pmml = dd_class(values, optype)
    pmml += f'  <GeneralRegressionModel modelName="{slug}" functionName="classification" {model_attrs}>\n'
    pmml += SCHEMA_CLASS.format(extra=schema_extra)
    pmml += output_class(values)
    pmml += targets
    pmml += pp
    pmml += "    <ParamMatrix>\n" + "\n".join(param_rows) + "\n    </ParamMatrix>\n"
    pmml += "  </GeneralRegressionModel>\n"
    write_case(number, slug, description, pmml, SPEC_REG, 240, {"family": "general_regression", "notes": notes}, seed)


def cases():
    # 120: modelType="regression": factor levels, covariate powers (2, 0.5), an interaction.
    grm_regression_case(
        120, "grm-regression-factors-powers-interaction",
        "GeneralRegressionModel modelType=regression: factor levels, covariate powers 2 and 0.5, a factor*covariate interaction, Targets rescale and defaultValue",
        'modelType="regression"',
        [12.5, 0.8, -0.004, 3.1, -2.2, 1.4, 0.05, 0.35, -1.1],
        targets="""    <Targets>
      <Target field="y" rescaleFactor="1.5" rescaleConstant="-2">
        <TargetValue defaultValue="7.25"/>
      </Target>
    </Targets>
""",
        seed=120,
        notes="Missing income (no replacement) or a missing region gives the Target defaultValue; region 'mars'/'NORTH' (asIs) matches no level; age outliers are clamped and missing ages replaced.",
    )

    # 121: modelType="generalLinear" with a contrast matrix on region.
    target = "y"
    pmml = DD_REG.format(target=target)
    pmml += '  <GeneralRegressionModel modelName="glm-contrast" functionName="regression" modelType="generalLinear">\n'
    pmml += SCHEMA_REG.format(target=target, extra="")
    pmml += output_reg(target)
    pmml += """    <ParameterList>
      <Parameter name="p0" label="Intercept"/>
      <Parameter name="p1" label="region contrast 1"/>
      <Parameter name="p2" label="region contrast 2"/>
      <Parameter name="p3" label="region contrast 3"/>
      <Parameter name="p4" label="age"/>
      <Parameter name="p5" label="visits^3"/>
    </ParameterList>
    <FactorList>
      <Predictor name="region" contrastMatrixType="helmert">
        <Categories>
          <Category value="north"/><Category value="south"/><Category value="east"/><Category value="west"/>
        </Categories>
        <Matrix kind="any" nbRows="4" nbCols="4">
          <Array type="real" n="4">-1 -1 -1 1</Array>
          <Array type="real" n="4">1 -1 -1 0.5</Array>
          <Array type="real" n="4">0 2 -1 0.25</Array>
          <Array type="real" n="4">0 0 3 0</Array>
        </Matrix>
      </Predictor>
    </FactorList>
    <CovariateList>
      <Predictor name="age"/>
      <Predictor name="visits"/>
    </CovariateList>
    <PPMatrix>
      <PPCell value="north" predictorName="region" parameterName="p1"/>
      <PPCell value="south" predictorName="region" parameterName="p2"/>
      <PPCell value="east" predictorName="region" parameterName="p3"/>
      <PPCell value="1" predictorName="age" parameterName="p4"/>
      <PPCell value="3" predictorName="visits" parameterName="p5"/>
    </PPMatrix>
"""
    pmml += param_matrix([4.0, 0.75, -0.5, 0.125, 0.031, 0.002])
    pmml += "  </GeneralRegressionModel>\n"
    spec = [s for s in SPEC_REG]
    spec[2] = ("region", "cat", REGIONS)
    write_case(121, "grm-generallinear-contrast-matrix", "GeneralRegressionModel modelType=generalLinear with a contrast Matrix (kind=any) for the region factor and a covariate cube",
               pmml.replace('<MiningField name="region" invalidValueTreatment="asIs"/>', '<MiningField name="region" invalidValueTreatment="asMissing"/>'),
               spec, 240, {"family": "general_regression", "notes": "The region factor is coded by its contrast matrix (row = the record's category, column = the PPCell's level); an invalid region is treated as missing, so the prediction is missing."}, 121)

    # 122-126: generalizedLinear regressions, one link function each.
    betas_small = [-0.4, 0.012, -0.00005, 0.2, -0.15, 0.1, 0.004, 0.03, -0.02]
    grm_regression_case(
        122, "grm-glm-log-offset-variable",
        "generalizedLinear, linkFunction=log (Poisson), offsetVariable",
        'modelType="generalizedLinear" linkFunction="log" distribution="poisson" offsetVariable="exposure"',
        betas_small,
        schema_extra='      <MiningField name="exposure"/>\n',
        seed=122,
        notes="A missing exposure (the offset variable) fails the record in JPMML, so such rows are dropped; a missing covariate gives a missing prediction.",
    )
    grm_regression_case(
        123, "grm-glm-power-offset-value",
        "generalizedLinear, linkFunction=power with linkParameter=0.5 (inverse: square), offsetValue",
        'modelType="generalizedLinear" linkFunction="power" linkParameter="0.5" distribution="gamma" offsetValue="0.75"',
        [1.2, 0.01, -0.00003, 0.3, -0.1, 0.05, 0.002, 0.02, 0.04],
        seed=123,
        notes="power link: mu = eta^(1/linkParameter), eta including offsetValue.",
    )
    grm_regression_case(
        124, "grm-glm-negbin-trials-variable",
        "generalizedLinear, linkFunction=negbin with distParameter, trialsVariable",
        'modelType="generalizedLinear" linkFunction="negbin" distParameter="1.7" distribution="negbin" trialsVariable="n"',
        [-1.1, -0.01, 0.00002, -0.2, 0.15, -0.1, -0.003, -0.02, 0.01],
        schema_extra='      <MiningField name="n"/>\n',
        seed=124,
        notes="negbin link: mu = 1/(k*(exp(-eta)-1)), multiplied by the trials variable n (missing or invalid n fails the record in JPMML).",
    )
    grm_regression_case(
        125, "grm-glm-oddspower-trials-value",
        "generalizedLinear, linkFunction=oddspower with linkParameter, trialsValue",
        'modelType="generalizedLinear" linkFunction="oddspower" linkParameter="0.4" distribution="binomial" trialsValue="5"',
        [-0.3, 0.01, -0.00002, 0.2, -0.3, 0.1, 0.003, 0.04, -0.03],
        seed=125,
        notes="oddspower link: mu = 1/(1+(1+d*eta)^(-1/d)), times trialsValue; (1+d*eta) below zero gives NaN (left empty by the oracle).",
    )
    grm_regression_case(
        126, "grm-glm-logc-float",
        "generalizedLinear, linkFunction=logc, mathContext=float",
        'modelType="generalizedLinear" linkFunction="logc" distribution="binomial"',
        [-0.9, -0.006, 0.00001, -0.2, 0.1, -0.05, -0.002, -0.01, -0.015],
        seed=126,
        math=' x-mathContext="float"',
        notes="logc link: mu = 1-exp(eta), every step in float arithmetic.",
    )

    # 127-131: generalizedLinear classification (binary), one link each.
    values = ["yes", "no"]
    rows = pcells([-1.5, 0.03, 0.4, -0.6, 0.01, -0.02, -0.0002], "yes")
    grm_class_case(
        127, "grm-glm-binary-logit-reference-priors",
        "generalizedLinear classification, linkFunction=logit, targetReferenceCategory, Target priors for records with a missing predictor",
        'modelType="generalizedLinear" linkFunction="logit" targetReferenceCategory="no"', values, rows, 127,
        "P(yes) = logit^-1(eta), P(no) = 1 - P(yes); a missing age/region/visits gives the Target prior probabilities.",
        targets="""    <Targets>
      <Target field="label">
        <TargetValue value="yes" priorProbability="0.3"/>
        <TargetValue value="no" priorProbability="0.7"/>
      </Target>
    </Targets>
""",
    )
    rows = pcells([-0.5, 0.015, 0.3, -0.4, 0.006, -0.01, -0.0001])
    grm_class_case(
        128, "grm-glm-binary-probit-untargeted-pcells",
        "generalizedLinear classification, linkFunction=probit, PCells without targetCategory (binary), reference category first in the DataField",
        'modelType="generalizedLinear" linkFunction="probit" targetReferenceCategory="no"', ["no", "yes"], rows, 128,
        "Binary target: PCells without targetCategory apply to the non-reference category; the reference category is moved last.",
    )
    rows = pcells([-1.0, 0.01, 0.2, -0.3, 0.004, -0.01, -0.0001], "yes") + pcells([-2.0, 0.005, -0.1, 0.2, 0.002, 0.01, 0.0001], "maybe")
    grm_class_case(
        129, "grm-glm-three-cloglog-implicit-reference",
        "generalizedLinear classification with three categories, linkFunction=cloglog, reference category implied (the one without PCells)",
        'modelType="generalizedLinear" linkFunction="cloglog"', ["yes", "no", "maybe"], rows, 129,
        "No targetReferenceCategory: the category without PCells (no) is the reference and goes last. JPMML gives each other category its inverse link and the last one 1 minus the second-to-last (not a normalized distribution).",
    )
    rows = pcells([0.2, -0.012, 0.25, -0.35, 0.005, -0.015, 0.0001], "yes")
    grm_class_case(
        130, "grm-glm-binary-loglog-offset",
        "generalizedLinear classification, linkFunction=loglog with offsetVariable",
        'modelType="generalizedLinear" linkFunction="loglog" offsetVariable="exposure"', values, rows, 130,
        "loglog inverse link exp(-exp(-eta)), eta including the exposure offset.",
        schema_extra='      <MiningField name="exposure"/>\n',
    )
    rows = pcells([0.1, 0.004, 0.1, -0.1, 0.002, -0.003, 0.00001], "yes")
    grm_class_case(
        131, "grm-glm-binary-identity-offset-trials",
        "generalizedLinear classification, linkFunction=identity with offsetValue and trialsValue",
        'modelType="generalizedLinear" linkFunction="identity" offsetValue="0.05" trialsValue="1"', values, rows, 131,
        "identity link: P(yes) = eta + offset (not clipped), P(no) = 1 - P(yes).",
    )

    # 132: multinomialLogistic, three categories, a category-specific PPMatrix.
    values = ["low", "mid", "high"]
    rows = pcells([1.2, -0.02, 0.5, -0.3, 0.01, -0.03, 0.0001], "low") + pcells([0.4, 0.005, -0.2, 0.6, 0.004, 0.01, -0.0002], "mid")
    pp_mid = PARAMS_CLASS.replace("    </PPMatrix>", """      <PPCell targetCategory="mid" value="1" predictorName="age" parameterName="c1"/>
      <PPCell targetCategory="mid" value="east" predictorName="region" parameterName="c2"/>
      <PPCell targetCategory="mid" value="west" predictorName="region" parameterName="c3"/>
      <PPCell targetCategory="mid" value="0.5" predictorName="income" parameterName="c4"/>
    </PPMatrix>""")
    grm_class_case(
        132, "grm-multinomial-logistic-three-classes",
        "multinomialLogistic, three categories, implied reference category (high), a PPMatrix of its own for one category, probabilities of every category",
        'modelType="multinomialLogistic"', values, rows, 132,
        "P(k) = exp(eta_k)/(1+sum exp(eta_j)) with the reference category last; category mid reads its own PPCells (east/west levels, sqrt(income)), low the untargeted ones; ties go to the first category in the reordered list.",
        pp=pp_mid,
    )

    # 133-135: ordinalMultinomial, cumulative links.
    values = ["bad", "fair", "good", "great"]
    pp_ord = PARAMS_CLASS.replace('<Parameter name="c0" label="Intercept"/>', '<Parameter name="c0" label="Intercept"/>\n      <Parameter name="t1" label="threshold 1"/>\n      <Parameter name="t2" label="threshold 2"/>\n      <Parameter name="t3" label="threshold 3"/>')
    names = ["t1", "t2", "t3"]
    common = pcells([None, 0.02, 0.5, -0.4, -0.01, 0.01, 0.0001])
    rows = common + [f'      <PCell targetCategory="{c}" parameterName="{n}" beta="{b}" df="1"/>' for c, n, b in zip(values, names, [-1.5, 0.0, 1.2])]
    grm_class_case(
        133, "grm-ordinal-logit-offset",
        "ordinalMultinomial, cumulativeLink=logit, one intercept per category but the last, offsetVariable, ordinal target",
        'modelType="ordinalMultinomial" cumulativeLink="logit" offsetVariable="exposure"', values, rows, 133,
        "P(k) = F(theta_k + eta + offset) - F(theta_(k-1) + ...), the last category 1 - F(theta_3 + ...).",
        schema_extra='      <MiningField name="exposure"/>\n', optype="ordinal", pp=pp_ord,
    )
    rows = common + [f'      <PCell targetCategory="{c}" parameterName="{n}" beta="{b}" df="1"/>' for c, n, b in zip(values, names, [-1.0, 0.2, 0.9])]
    pp_fair = pp_ord.replace("    </PPMatrix>", """      <PPCell targetCategory="fair" value="1" predictorName="age" parameterName="c1"/>
      <PPCell targetCategory="fair" value="east" predictorName="region" parameterName="c2"/>
    </PPMatrix>""")
    grm_class_case(
        134, "grm-ordinal-cauchit",
        "ordinalMultinomial, cumulativeLink=cauchit, categorical target, a PPMatrix of its own for one category",
        'modelType="ordinalMultinomial" cumulativeLink="cauchit"', values, rows, 134,
        "cauchit cumulative link 0.5 + atan(x)/pi; category fair reads its own PPCells (only age and region=east), the others the untargeted ones.",
        pp=pp_fair,
    )

    # 136-137: CoxRegression.
    cox_dd = """  <DataDictionary>
    <DataField name="age" optype="continuous" dataType="double"/>
    <DataField name="income" optype="continuous" dataType="double"/>
    <DataField name="region" optype="categorical" dataType="string">
      <Value value="north"/><Value value="south"/><Value value="east"/><Value value="west"/>
    </DataField>
    <DataField name="time" optype="continuous" dataType="double"/>
    <DataField name="stage" optype="categorical" dataType="integer">
      <Value value="1"/><Value value="2"/><Value value="3"/>
    </DataField>
    <DataField name="hazard" optype="continuous" dataType="double"/>
  </DataDictionary>
"""
    cox_spec = [
        ("age", "num", (18, 90, 1)),
        ("income", "num", (10, 120, 2)),
        ("region", "cat", REGIONS),
        ("time", "num", (-1, 14, 2)),
        ("stage", "cat", ["1", "2", "3", "4"]),
    ]
    cox_params = """    <ParameterList>
      <Parameter name="p0" label="age" referencePoint="50"/>
      <Parameter name="p1" label="region=north" referencePoint="0.25"/>
      <Parameter name="p2" label="region=south" referencePoint="0.25"/>
      <Parameter name="p3" label="income" referencePoint="60"/>
    </ParameterList>
    <FactorList>
      <Predictor name="region"/>
    </FactorList>
    <CovariateList>
      <Predictor name="age"/>
      <Predictor name="income"/>
    </CovariateList>
    <PPMatrix>
      <PPCell value="1" predictorName="age" parameterName="p0"/>
      <PPCell value="north" predictorName="region" parameterName="p1"/>
      <PPCell value="south" predictorName="region" parameterName="p2"/>
      <PPCell value="1" predictorName="income" parameterName="p3"/>
    </PPMatrix>
    <ParamMatrix>
      <PCell parameterName="p0" beta="0.031" df="1"/>
      <PCell parameterName="p1" beta="-0.42" df="1"/>
      <PCell parameterName="p2" beta="0.27" df="1"/>
      <PCell parameterName="p3" beta="-0.008" df="1"/>
    </ParamMatrix>
"""
    cox_schema = """    <MiningSchema>
      <MiningField name="hazard" usageType="target"/>
      <MiningField name="age" invalidValueTreatment="asMissing"/>
      <MiningField name="income" missingValueReplacement="55" invalidValueTreatment="asMissing"/>
      <MiningField name="region" invalidValueTreatment="asIs"/>
      <MiningField name="time" invalidValueTreatment="asMissing"/>
{extra}    </MiningSchema>
"""
    strata = """    <BaseCumHazardTables>
      <BaselineStratum value="1" label="stage I" maxTime="10">
        <BaselineCell time="0.5" cumHazard="0.01"/>
        <BaselineCell time="2" cumHazard="0.05"/>
        <BaselineCell time="4" cumHazard="0.12"/>
        <BaselineCell time="7.5" cumHazard="0.2"/>
      </BaselineStratum>
      <BaselineStratum value="2" label="stage II" maxTime="12">
        <BaselineCell time="1" cumHazard="0.04"/>
        <BaselineCell time="3" cumHazard="0.15"/>
        <BaselineCell time="6" cumHazard="0.33"/>
        <BaselineCell time="9" cumHazard="0.51"/>
      </BaselineStratum>
    </BaseCumHazardTables>
"""
    pmml = cox_dd + '  <GeneralRegressionModel modelName="cox-strata" functionName="regression" modelType="CoxRegression" endTimeVariable="time" baselineStrataVariable="stage">\n'
    pmml += cox_schema.format(extra='      <MiningField name="stage" invalidValueTreatment="asIs"/>\n')
    pmml += output_reg("hazard") + cox_params + strata + "  </GeneralRegressionModel>\n"
    write_case(136, "grm-cox-baseline-strata", "CoxRegression with baselineStrataVariable: BaselineStratum tables, maxTime, times before the first cell, reference points", pmml, cox_spec, 240,
               {"family": "general_regression", "notes": "stage 3 (declared, no stratum) and 4 (invalid, asIs) give a missing prediction; a missing time or stage fails the record in JPMML (dropped); time above maxTime gives missing, below the first cell 0."}, 136)
    pmml = cox_dd + '  <GeneralRegressionModel modelName="cox" functionName="regression" modelType="CoxRegression" endTimeVariable="time">\n'
    pmml += cox_schema.format(extra="") + output_reg("hazard") + """    <Targets>
      <Target field="hazard" rescaleFactor="100" min="0" max="40">
        <TargetValue defaultValue="-1"/>
      </Target>
    </Targets>
""" + cox_params + """    <BaseCumHazardTables maxTime="11">
      <BaselineCell time="5" cumHazard="0.21"/>
      <BaselineCell time="1" cumHazard="0.03"/>
      <BaselineCell time="3" cumHazard="0.11"/>
      <BaselineCell time="3" cumHazard="0.12"/>
      <BaselineCell time="8" cumHazard="0.37"/>
    </BaseCumHazardTables>
  </GeneralRegressionModel>
"""
    write_case(137, "grm-cox-baseline-cells-targets", "CoxRegression with one table of BaselineCells (unsorted, a repeated time), Targets min/max/rescale and a defaultValue", pmml, cox_spec[:4], 240,
               {"family": "general_regression", "notes": "The cell with the largest time not above the end time (the first of two equal times) gives the baseline hazard."}, 137)


SC_DD = """  <DataDictionary>
    <DataField name="age" optype="continuous" dataType="double"/>
    <DataField name="income" optype="continuous" dataType="double"/>
    <DataField name="region" optype="categorical" dataType="string">
      <Value value="north"/><Value value="south"/><Value value="east"/><Value value="west"/>
    </DataField>
    <DataField name="visits" optype="continuous" dataType="integer"/>
    <DataField name="score" optype="continuous" dataType="double"/>
  </DataDictionary>
"""

SC_SPEC = [
    ("age", "num", (15, 80, 0)),
    ("income", "num", (0, 150, 1)),
    ("region", "cat", REGIONS),
    ("visits", "int", (0, 10)),
]


def sc_output(ranks):
    lines = ["    <Output>",
             '      <OutputField name="final_score" optype="continuous" dataType="double" feature="predictedValue"/>']
    for r in ranks:
        lines.append(f'      <OutputField name="reason_{r}" optype="categorical" dataType="string" feature="reasonCode" rank="{r}"/>')
    lines.append("    </Output>")
    return "\n".join(lines) + "\n"


SC_SCHEMA = """    <MiningSchema>
      <MiningField name="score" usageType="predicted"/>
      <MiningField name="age" invalidValueTreatment="asMissing" outliers="asExtremeValues" lowValue="18" highValue="75"/>
      <MiningField name="income" missingValueReplacement="40" invalidValueTreatment="asMissing"/>
      <MiningField name="region" invalidValueTreatment="asIs"/>
      <MiningField name="visits" invalidValueTreatment="asMissing"/>
    </MiningSchema>
"""


def sc_characteristics(with_complex=True):
    complex_income = """        <Attribute reasonCode="RC_INC_HIGH">
          <SimplePredicate field="income" operator="greaterOrEqual" value="80"/>
          <ComplexPartialScore>
            <Apply function="+">
              <Constant dataType="double">20</Constant>
              <Apply function="*">
                <Constant dataType="double">0.1</Constant>
                <FieldRef field="income"/>
              </Apply>
            </Apply>
          </ComplexPartialScore>
        </Attribute>
""" if with_complex else """        <Attribute reasonCode="RC_INC_HIGH" partialScore="30">
          <SimplePredicate field="income" operator="greaterOrEqual" value="80"/>
        </Attribute>
"""
    return f"""    <Characteristics>
      <Characteristic name="age_band" reasonCode="RC_AGE" baselineScore="18">
        <Attribute partialScore="5">
          <SimplePredicate field="age" operator="isMissing"/>
        </Attribute>
        <Attribute partialScore="10">
          <SimplePredicate field="age" operator="lessThan" value="30"/>
        </Attribute>
        <Attribute partialScore="18">
          <CompoundPredicate booleanOperator="and">
            <SimplePredicate field="age" operator="greaterOrEqual" value="30"/>
            <SimplePredicate field="age" operator="lessThan" value="50"/>
          </CompoundPredicate>
        </Attribute>
        <Attribute partialScore="26">
          <SimplePredicate field="age" operator="greaterOrEqual" value="50"/>
        </Attribute>
      </Characteristic>
      <Characteristic name="income_band" reasonCode="RC_INC">
        <Attribute partialScore="3">
          <SimplePredicate field="income" operator="lessThan" value="20"/>
        </Attribute>
        <Attribute partialScore="15">
          <SimplePredicate field="income" operator="lessThan" value="80"/>
        </Attribute>
{complex_income}      </Characteristic>
      <Characteristic name="region_group" reasonCode="RC_REGION" baselineScore="12">
        <Attribute partialScore="20" reasonCode="RC_REGION_NS">
          <SimpleSetPredicate field="region" booleanOperator="isIn">
            <Array type="string" n="2">north south</Array>
          </SimpleSetPredicate>
        </Attribute>
        <Attribute partialScore="12">
          <SimplePredicate field="region" operator="equal" value="east"/>
        </Attribute>
        <Attribute partialScore="4">
          <True/>
        </Attribute>
      </Characteristic>
      <Characteristic name="visit_count" reasonCode="RC_AGE" baselineScore="8">
        <Attribute partialScore="2">
          <SimplePredicate field="visits" operator="lessOrEqual" value="1"/>
        </Attribute>
        <Attribute partialScore="8">
          <SimplePredicate field="visits" operator="lessOrEqual" value="5"/>
        </Attribute>
        <Attribute partialScore="14">
          <SimplePredicate field="visits" operator="greaterThan" value="5"/>
        </Attribute>
      </Characteristic>
    </Characteristics>
"""


def scorecards():
    pmml = SC_DD + '  <Scorecard modelName="sc-below" functionName="regression" initialScore="100" useReasonCodes="true" reasonCodeAlgorithm="pointsBelow" baselineMethod="other" baselineScore="15">\n'
    pmml += SC_SCHEMA + sc_output([1, 2, 3, 4, 5]) + sc_characteristics() + "  </Scorecard>\n"
    write_case(138, "scorecard-points-below-complex", "Scorecard, reasonCodeAlgorithm=pointsBelow, baselineScore on the Scorecard and on Characteristics, ComplexPartialScore, a reason code shared by two characteristics, reason codes ranks 1-5",
               pmml, SC_SPEC, 240, {"family": "scorecard", "notes": "A record whose visits is missing or invalid matches no attribute of visit_count: JPMML fails it (dropped). Reason codes with negative points are left out; ties keep the order the codes were first scored."}, 138)
    pmml = SC_DD + '  <Scorecard modelName="sc-above" functionName="regression" initialScore="-5.5" reasonCodeAlgorithm="pointsAbove" baselineMethod="max" baselineScore="10">\n'
    pmml += SC_SCHEMA + sc_output([1, 2, 3]) + """    <Targets>
      <Target field="score" rescaleFactor="2" rescaleConstant="300" castInteger="round"/>
    </Targets>
""" + sc_characteristics(with_complex=False) + "  </Scorecard>\n"
    write_case(139, "scorecard-points-above-targets", "Scorecard, useReasonCodes by default, reasonCodeAlgorithm=pointsAbove, model-level baselineScore where the characteristic has none, Targets rescale and castInteger",
               pmml, SC_SPEC, 240, {"family": "scorecard", "notes": "pointsAbove: points = partial score - baseline; equal points are ranked in the order the codes were first scored."}, 139)
    pmml = SC_DD + '  <Scorecard modelName="sc-plain" functionName="regression" initialScore="12" useReasonCodes="false">\n'
    pmml += SC_SCHEMA.replace('<MiningField name="visits" invalidValueTreatment="asMissing"/>', '<MiningField name="visits" missingValueReplacement="3" invalidValueTreatment="asMissing"/>')
    pmml += sc_output([]) + sc_characteristics().replace(' baselineScore="18"', "").replace(' baselineScore="12"', "").replace(' baselineScore="8"', "") + "  </Scorecard>\n"
    write_case(135, "scorecard-no-reason-codes", "Scorecard with useReasonCodes=false (no baseline scores needed), missing visits replaced so every characteristic matches",
               pmml, SC_SPEC, 240, {"family": "scorecard", "notes": "Only the score: the sum of the initial score and one partial score per characteristic."}, 135)


if __name__ == "__main__":
    ONLY.update(int(a) for a in sys.argv[1:])
    cases()
    scorecards()
