"""Exports scikit-learn, XGBoost and LightGBM pipelines with sklearn2pmml as conformance
cases (model.pmml, input.csv, case.json); `jpmml.py` then scores them with JPMML.

Usage: python make_sklearn.py FIXTURES_DIR [CASE_NAME...]   (all cases when none is named)
"""

import json
import re
import sys
from pathlib import Path

import numpy
import pandas
from sklearn.datasets import load_iris, load_wine, load_breast_cancer, make_classification
from sklearn.ensemble import BaggingClassifier, BaggingRegressor, RandomForestClassifier, VotingClassifier
from sklearn.linear_model import LogisticRegression, Perceptron, RidgeClassifier
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier
from sklearn2pmml import sklearn2pmml
from sklearn2pmml.decoration import ContinuousDomain, CategoricalDomain
from sklearn2pmml.pipeline import PMMLPipeline
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.ensemble import ExtraTreesClassifier, GradientBoostingClassifier
from sklearn.preprocessing import OneHotEncoder
from lightgbm import LGBMClassifier
from xgboost import XGBClassifier


def frame(loader, target="y"):
    d = loader()
    X = pandas.DataFrame(d.data, columns=[re.sub(r"[^A-Za-z0-9_]", "_", c) for c in d.feature_names])
    y = pandas.Series([str(d.target_names[i]) for i in d.target], name=target)
    return X, y


def synthetic(seed, n=600, classes=4):
    X, y = make_classification(n_samples=n, n_features=8, n_informative=5, n_classes=classes,
                               n_clusters_per_class=1, random_state=seed)
    X = pandas.DataFrame(X, columns=[f"x{i}" for i in range(8)])
    return X, pandas.Series([f"c{v}" for v in y], name="y")


def with_missing(X, seed, share=0.08):
    rng = numpy.random.default_rng(seed)
    X = X.copy()
    mask = rng.random(X.shape) < share
    return X.mask(mask)


def input_rows(X, seed, rows, extra=None):
    rng = numpy.random.default_rng(seed + 1)
    idx = rng.choice(len(X), size=min(rows, len(X)), replace=False)
    out = X.iloc[idx].reset_index(drop=True)
    if extra is not None:
        out = pandas.concat([out, extra], ignore_index=True)
    out.insert(0, "Id", range(1, len(out) + 1))
    return out


def write(fixtures, name, pipeline, inp, meta):
    d = Path(fixtures) / name
    d.mkdir(parents=True, exist_ok=True)
    sklearn2pmml(pipeline, str(d / "model.pmml"))
    text = (d / "model.pmml").read_text()
    text = re.sub(r"\s*<Timestamp>.*?</Timestamp>", "", text, flags=re.S)
    (d / "model.pmml").write_text(text)
    inp.to_csv(d / "input.csv", index=False, na_rep="")
    meta = {"name": name, "suite": "styx", "converter": "sklearn2pmml 0.133.1", **meta}
    (d / "case.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(name, file=sys.stderr)


def xgb_multiclass_iris(fx, name):
    X, y = frame(load_iris)
    X = with_missing(X, 200)
    p = PMMLPipeline([("clf", XGBClassifier(n_estimators=40, max_depth=3, learning_rate=0.3, random_state=200))])
    p.fit(X, y.map({"setosa": 0, "versicolor": 1, "virginica": 2}))
    write(fx, name, p, input_rows(X, 200, 150), {"family": "xgboost", "estimator": "XGBClassifier multi:softprob, 3 classes, missing cells",
                                                  "notes": "float32 softmax over per-class float32 sums"})


def xgb_multiclass_synthetic(fx, name):
    X, y = synthetic(201, classes=5)
    X = with_missing(X, 201, 0.05)
    p = PMMLPipeline([("clf", XGBClassifier(n_estimators=60, max_depth=4, learning_rate=0.15, random_state=201))])
    p.fit(X, y.map(lambda s: int(s[1:])))
    write(fx, name, p, input_rows(X, 201, 400), {"family": "xgboost", "estimator": "XGBClassifier multi:softprob, 5 classes, 60 rounds",
                                                  "notes": "float32 softmax"})


def lgbm_multiclass(fx, name):
    X, y = frame(load_wine)
    X = with_missing(X, 202, 0.05)
    p = PMMLPipeline([("clf", LGBMClassifier(n_estimators=30, num_leaves=8, min_child_samples=5, random_state=202, verbose=-1))])
    p.fit(X, y)
    write(fx, name, p, input_rows(X, 202, 178), {"family": "lightgbm", "estimator": "LGBMClassifier multiclass, 3 classes"})


def bagging_ties(fx, name):
    X, y = synthetic(203, n=500, classes=3)
    p = PMMLPipeline([("clf", BaggingClassifier(DecisionTreeClassifier(max_depth=2), n_estimators=4, random_state=203))])
    p.fit(X, y)
    write(fx, name, p, input_rows(X, 203, 500), {"family": "bagging", "estimator": "BaggingClassifier of 4 shallow trees, 3 classes",
                                                  "notes": "an even number of voters: many majority-vote ties"})


def bagging_votes(fx, name, base, n, classes, seed):
    X, y = synthetic(seed, n=500, classes=classes)
    p = PMMLPipeline([("clf", BaggingClassifier(base, n_estimators=n, max_samples=0.5, max_features=0.6, random_state=seed))])
    p.fit(X, y)
    write(fx, name, p, input_rows(X, seed, 500), {"family": "bagging", "estimator": f"BaggingClassifier of {n} {type(base).__name__}, {classes} classes",
                                                  "notes": "estimators without probabilities: a majority vote, with many ties"})


def bagging_stumps(fx, name):
    X, y = synthetic(211, n=500, classes=3)
    p = PMMLPipeline([("clf", BaggingClassifier(DecisionTreeClassifier(max_depth=1), n_estimators=2, max_samples=6, random_state=211))])
    p.fit(X, y)
    write(fx, name, p, input_rows(X, 211, 500), {"family": "bagging", "estimator": "BaggingClassifier of 2 stumps on 6 samples each",
                                                  "notes": "averaged probabilities tie often (leaves of 0.5)"})


def rf_tiny(fx, name):
    X, y = synthetic(212, n=500, classes=4)
    p = PMMLPipeline([("clf", RandomForestClassifier(n_estimators=3, max_depth=2, max_samples=8, random_state=212))])
    p.fit(X, y)
    write(fx, name, p, input_rows(X, 212, 500), {"family": "random_forest", "estimator": "RandomForestClassifier of 3 trees on 8 samples each",
                                                  "notes": "averaged probabilities tie often"})


def voting_hard_ties(fx, name):
    X, y = synthetic(204, n=500, classes=3)
    p = PMMLPipeline([("clf", VotingClassifier([("a", DecisionTreeClassifier(max_depth=2, random_state=1)),
                                                ("b", LogisticRegression(max_iter=500)),
                                                ("c", DecisionTreeClassifier(max_depth=1, random_state=2)),
                                                ("d", DecisionTreeClassifier(max_depth=3, random_state=3))], voting="hard"))])
    p.fit(X, y)
    write(fx, name, p, input_rows(X, 204, 500), {"family": "voting", "estimator": "VotingClassifier(hard) of 4, 3 classes",
                                                  "notes": "majority votes with ties"})


def rf_domains(fx, name, invalid, missing):
    X, y = frame(load_breast_cancer)
    X = X.iloc[:, :6]
    cols = list(X.columns)
    mapper = ColumnTransformer([
        ("num", ContinuousDomain(invalid_value_treatment=invalid, missing_value_treatment=missing,
                                 missing_value_replacement=None if missing != "as_value" else 1.0,
                                 invalid_value_replacement=None if invalid != "as_value" else 2.0,
                                 with_data=True), cols)])
    p = PMMLPipeline([("mapper", mapper), ("clf", RandomForestClassifier(n_estimators=12, max_depth=5, random_state=205))])
    p.fit(X, y)
    inp = input_rows(with_missing(X, 205, 0.05), 205, 300)
    rng = numpy.random.default_rng(205)
    # Values outside the training range (invalid for a ContinuousDomain with data) and text.
    for c in cols:
        rows = rng.choice(len(inp), size=12, replace=False)
        inp.loc[rows[:6], c] = inp[c].max() * 3
        inp.loc[rows[6:], c] = -1.0
    write(fx, name, p, inp, {"family": "random_forest", "estimator": "RandomForestClassifier behind a ContinuousDomain",
                             "notes": f"invalid_value_treatment={invalid}, missing_value_treatment={missing}"})


def customers(seed, n=1200):
    rng = numpy.random.default_rng(seed)
    X = pandas.DataFrame({
        "age": rng.integers(18, 90, n).astype(float),
        "income": numpy.round(rng.gamma(4, 9000, n), 1),
        "balance": numpy.round(rng.normal(4000, 2500, n), 2),
        "tenure_months": rng.integers(0, 300, n).astype(float),
        "segment": rng.choice(["retail", "student", "business", "private"], n),
        "region": rng.choice(["north", "south", "east", "west"], n),
    })
    score = (X["income"] / 30000 + (X["segment"] == "business") * 1.2 - (X["region"] == "south") * 0.8
             + X["balance"] / 5000 + rng.normal(0, 0.6, n))
    y = pandas.Series(numpy.where(score > 2.0, "churn", numpy.where(score > 1.2, "stay", "upgrade")), name="y")
    return X, y


def rf_categorical_domains(fx, name, invalid, missing, forest):
    X, y = customers(213 + len(name))
    num = ["age", "income", "balance", "tenure_months"]
    cat = ["segment", "region"]
    mapper = ColumnTransformer([
        ("num", ContinuousDomain(invalid_value_treatment=invalid, missing_value_treatment=missing,
                                 missing_value_replacement=None if missing != "as_value" else 0.0,
                                 invalid_value_replacement=None if invalid != "as_value" else 1.0,
                                 outlier_treatment="as_extreme_values" if invalid != "as_is" else "as_is",
                                 low_value=0.0 if invalid != "as_is" else None,
                                 high_value=100000.0 if invalid != "as_is" else None), num),
        ("cat", Pipeline([("domain", CategoricalDomain(invalid_value_treatment=invalid, missing_value_treatment=missing,
                                                        missing_value_replacement=None if missing != "as_value" else "retail" ,
                                                        invalid_value_replacement=None if invalid != "as_value" else "north")),
                          ("onehot", OneHotEncoder(handle_unknown="ignore"))]), cat)])
    p = PMMLPipeline([("mapper", mapper), ("clf", forest)])
    Xf = X.iloc[:900]
    p.fit(Xf.iloc[:, :], y.iloc[:900])
    inp = input_rows(with_missing(X.iloc[900:], 213, 0.06), 213, 300)
    rng = numpy.random.default_rng(213)
    inp.loc[rng.choice(len(inp), 15, replace=False), "segment"] = "vip"
    inp.loc[rng.choice(len(inp), 15, replace=False), "region"] = "central"
    inp.loc[rng.choice(len(inp), 10, replace=False), "income"] = 250000.0
    inp.loc[rng.choice(len(inp), 10, replace=False), "balance"] = -9000.0
    # Text that parses to numbers outside every interval: NaN is invalid, never missing.
    inp = inp.astype(object)
    for j, text in enumerate(["NaN", "Infinity", "-Infinity", "-0", "1e3", "NaN"]):
        inp.loc[7 + 40 * j, ["age", "tenure_months", "balance"][j % 3]] = text
    write(fx, name, p, inp, {"family": "random_forest", "estimator": type(forest).__name__ + " behind ContinuousDomain and CategoricalDomain",
                             "notes": f"invalid_value_treatment={invalid}, missing_value_treatment={missing}; invalid categories and values in the input"})


CASES = {
    "200-xgboost-multiclass-float32-iris": xgb_multiclass_iris,
    "201-xgboost-multiclass-float32-synthetic": xgb_multiclass_synthetic,
    "202-lightgbm-multiclass-wine": lgbm_multiclass,
    "203-bagging-classifier-vote-ties": bagging_ties,
    "204-voting-hard-ties": voting_hard_ties,
    "208-bagging-perceptron-vote-ties": lambda fx, n: bagging_votes(fx, n, Perceptron(random_state=1), 4, 3, 208),
    "209-bagging-linearsvc-vote-ties": lambda fx, n: bagging_votes(fx, n, LinearSVC(max_iter=3000), 6, 4, 209),
    "210-bagging-ridge-binary-vote-ties": lambda fx, n: bagging_votes(fx, n, RidgeClassifier(), 4, 2, 210),
    "211-bagging-stumps-probability-ties": bagging_stumps,
    "212-rf-tiny-leaves-probability-ties": rf_tiny,
    "213-rf-categorical-domain-invalid-as-is": lambda fx, n: rf_categorical_domains(fx, n, "as_is", "as_is", RandomForestClassifier(n_estimators=15, max_depth=6, random_state=213)),
    "214-rf-categorical-domain-invalid-as-missing": lambda fx, n: rf_categorical_domains(fx, n, "as_missing", "as_is", RandomForestClassifier(n_estimators=15, max_depth=6, random_state=214)),
    "215-rf-categorical-domain-invalid-as-value": lambda fx, n: rf_categorical_domains(fx, n, "as_value", "as_value", RandomForestClassifier(n_estimators=15, max_depth=6, random_state=215)),
    "216-extratrees-categorical-domain-invalid-as-missing": lambda fx, n: rf_categorical_domains(fx, n, "as_missing", "as_value", ExtraTreesClassifier(n_estimators=10, max_depth=6, random_state=216)),
    "217-gbc-categorical-domain-invalid-as-is": lambda fx, n: rf_categorical_domains(fx, n, "as_is", "as_is", GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=217)),
    "205-rf-domain-invalid-as-missing": lambda fx, n: rf_domains(fx, n, "as_missing", "as_is"),
    "206-rf-domain-invalid-as-is": lambda fx, n: rf_domains(fx, n, "as_is", "as_is"),
    "207-rf-domain-invalid-as-value": lambda fx, n: rf_domains(fx, n, "as_value", "as_value"),
}

if __name__ == "__main__":
    fx = sys.argv[1]
    names = sys.argv[2:] or list(CASES)
    for n in names:
        CASES[n](fx, n)
