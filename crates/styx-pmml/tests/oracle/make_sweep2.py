"""A second sweep through sklearn2pmml (cases 460-499): sklearn2pmml's own transformers
(string, date and lookup ones, expressions with conditions and string functions), its
decorators (date, ordinal and multi domains), and estimators and objectives the first
sweep does not cover (calibration, multinomial and Bernoulli naive Bayes, target
encoding, splines, truncated SVD, XGBoost and LightGBM objectives, rule sets). Each
pipeline that converts becomes a case; `jpmml.py` then scores them with JPMML.

Usage: python make_sweep2.py FIXTURES_DIR [CASE_NAME...]
"""

import sys

import numpy
import pandas
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import TruncatedSVD
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.naive_bayes import BernoulliNB, MultinomialNB
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, OrdinalEncoder, SplineTransformer, StandardScaler, TargetEncoder
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn2pmml.decoration import (CategoricalDomain, ContinuousDomain, DateDomain, DateTimeDomain, MultiDomain,
                                     OrdinalDomain)
from sklearn2pmml.pipeline import PMMLPipeline
from sklearn2pmml.preprocessing import (CutTransformer, DataFrameConstructor, DaysSinceYearTransformer, ExpressionTransformer,
                                        IdentityTransformer, LookupTransformer, MatchesTransformer,
                                        MultiLookupTransformer, ReplaceTransformer, SecondsSinceMidnightTransformer,
                                        SecondsSinceYearTransformer, StringLengthTransformer, StringNormalizer,
                                        SubstringTransformer)
from sklearn2pmml.ruleset import RuleSetClassifier
from lightgbm import LGBMClassifier, LGBMRegressor
from xgboost import XGBClassifier, XGBRegressor

from make_sklearn import input_rows, with_missing, write

NUM = ["age", "income", "balance", "tenure"]
CAT = ["segment", "region"]


def data(seed, n=1100, regression=False):
    """Customers with numbers, categories, free text codes and dates."""
    rng = numpy.random.default_rng(seed)
    X = pandas.DataFrame({
        "age": rng.integers(18, 90, n).astype(float),
        "income": numpy.round(rng.gamma(4, 9000, n), 1),
        "balance": numpy.round(rng.normal(4000, 2500, n), 2),
        "tenure": rng.integers(0, 300, n).astype(float),
        "segment": rng.choice(["retail", "student", "business", "private"], n),
        "region": rng.choice(["north", "south", "east", "west"], n),
        "code": [f"{a}{b}-{c:03d}" for a, b, c in zip(rng.choice(list("ABCX"), n), rng.choice(list("KLMN"), n), rng.integers(0, 1000, n))],
        "name": rng.choice(["  Ann Lee", "bob KIM ", "Carla  Diaz", "DAN O'NEIL", "eve", "Frank de la Cruz"], n),
        "signup": [str(d) for d in (numpy.datetime64("1998-01-01") + rng.integers(0, 9000, n).astype("timedelta64[D]"))],
        "last_seen": [str(t)[:19] for t in (numpy.datetime64("2020-01-01T00:00:00") + rng.integers(0, 86400 * 900, n).astype("timedelta64[s]"))],
        "grade": rng.choice(["low", "mid", "high"], n),
    })
    score = (X["income"] / 30000 + (X["segment"] == "business") * 1.2 - (X["region"] == "south") * 0.8
             + X["balance"] / 5000 + X["code"].str.startswith("X") * 0.7 + rng.normal(0, 0.6, n))
    if regression:
        y = pandas.Series(numpy.round(score * 1000 + X["age"] * 3, 3), name="y")
    else:
        y = pandas.Series(numpy.where(score > 2.0, "churn", numpy.where(score > 1.2, "stay", "upgrade")), name="y")
    return X, y


def two_d(t, column, dtype=float):
    """A transformer whose output is a column vector (a Series), made a one-column data
    frame for ColumnTransformer (named after the input column it is made of)."""
    return Pipeline([("t", t), ("2d", DataFrameConstructor(columns=[column], dtype=dtype))])


def case(fx, name, X, y, pipeline, notes, missing=0.04, edit=None, cols=None):
    X = X[cols] if cols else X
    pipeline.fit(X.iloc[:800], y.iloc[:800])
    test = with_missing(X.iloc[800:], int(name[:3]), missing) if missing else X.iloc[800:]
    inp = input_rows(test, int(name[:3]), 300).astype(object)
    if edit is not None:
        inp = edit(inp)
    write(fx, name, pipeline, inp, {"family": "sweep2", "estimator": repr(pipeline.steps[-1][1])[:200], "notes": notes})


def unseen(inp):
    if "segment" in inp.columns:
        inp.loc[[3, 50, 120], "segment"] = "vip"
    if "region" in inp.columns:
        inp.loc[[7, 77], "region"] = "central"
    return inp


def cases():
    c = {}

    def add(name):
        def deco(f):
            c[name] = f
            return f
        return deco

    @add("460-sweep2-cut-lookup-multilookup-tree")
    def _(fx, n):
        X, y = data(460)
        ct = ColumnTransformer([
            ("cut", ExpressionTransformer("'young' if X[0] < 30 else ('adult' if X[0] < 45 else ('senior' if X[0] < 65 else 'old')) if X[1] > -1e9 else 'x'"), ["age", "balance"]),
            ("multi", MultiLookupTransformer({("retail", "north"): "a", ("business", "south"): "b", ("student", "east"): "c"}, default_value="z"), ["segment", "region"]),
            ("lookup", MultiLookupTransformer({("north", "retail"): 1.0, ("south", "retail"): 1.5, ("north", "student"): 0.5, ("west", "business"): 3.0}, default_value=-1.0), ["region", "segment"]),
            ("num", "passthrough", ["income", "balance"])])
        p = PMMLPipeline([("ct", ct), ("enc", ColumnTransformer([("oh", OneHotEncoder(handle_unknown="ignore"), [0, 1])], remainder="passthrough")),
                          ("clf", DecisionTreeClassifier(max_depth=5, random_state=1))])
        case(fx, n, X, y, p, "nested if/else expression of labels, MultiLookupTransformer (MapValues of two columns) to strings and numbers", edit=unseen, cols=NUM + CAT)

    @add("463-sweep2-date-days-since-year")
    def _(fx, n):
        X, y = data(463)
        ct = ColumnTransformer([
            ("date", Pipeline([("d", DateDomain()), ("days", DaysSinceYearTransformer(year=2000))]), ["signup"]),
            ("ts", Pipeline([("d", DateTimeDomain()), ("secs", SecondsSinceMidnightTransformer())]), ["last_seen"]),
            ("num", "passthrough", ["income", "balance"])])
        p = PMMLPipeline([("ct", ct), ("clf", DecisionTreeClassifier(max_depth=6, random_state=1))])
        case(fx, n, X, y, p, "DateDomain + DaysSinceYearTransformer, DateTimeDomain + SecondsSinceMidnightTransformer", missing=0.03,
             cols=["signup", "last_seen", "income", "balance"])

    @add("465-sweep2-ordinal-multi-domain-identity")
    def _(fx, n):
        X, y = data(465)
        ct = ColumnTransformer([
            ("grade", Pipeline([("d", OrdinalDomain(invalid_value_treatment="as_missing")), ("enc", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)), ("imp", SimpleImputer(strategy="most_frequent"))]), ["grade"]),
            ("multi", Pipeline([("d", MultiDomain([ContinuousDomain(missing_value_replacement=0.0, missing_value_treatment="as_value"), CategoricalDomain(invalid_value_treatment="as_is")])),
                                ("ct", ColumnTransformer([("n", "passthrough", [0]), ("c", OneHotEncoder(handle_unknown="ignore"), [1])]))]), ["income", "segment"]),
            ("id", IdentityTransformer(), ["balance"])])
        p = PMMLPipeline([("ct", ct), ("clf", RandomForestClassifier(n_estimators=10, max_depth=6, random_state=1))])

        def edit(inp):
            inp = unseen(inp)
            inp.loc[[11, 12], "grade"] = "extreme"
            return inp
        case(fx, n, X, y, p, "OrdinalDomain(as_missing), MultiDomain of continuous and categorical, IdentityTransformer", edit=edit,
             cols=["grade", "income", "segment", "balance"])

    @add("466-sweep2-calibrated-linearsvc")
    def _(fx, n):
        X, y = data(466)
        ct = ColumnTransformer([("num", StandardScaler(), NUM), ("cat", OneHotEncoder(handle_unknown="ignore"), CAT)])
        p = PMMLPipeline([("ct", ct), ("clf", CalibratedClassifierCV(LinearSVC(max_iter=5000, dual="auto"), cv=3))])
        case(fx, n, X, y, p, "CalibratedClassifierCV(sigmoid) of LinearSVC, 3 classes", missing=0.0, edit=unseen, cols=NUM + CAT)

    @add("467-sweep2-calibrated-tree-isotonic")
    def _(fx, n):
        X, y = data(467)
        y = (y == "churn").map({True: "yes", False: "no"})
        p = PMMLPipeline([("ct", ColumnTransformer([("num", "passthrough", NUM)])),
                          ("clf", CalibratedClassifierCV(DecisionTreeClassifier(max_depth=4, random_state=1), method="isotonic", cv=3))])
        case(fx, n, X, y, p, "CalibratedClassifierCV(isotonic) of trees, binary", cols=NUM)

    @add("468-sweep2-gbc-multiclass-init-lr")
    def _(fx, n):
        X, y = data(468)
        ct = ColumnTransformer([("num", SimpleImputer(), NUM), ("cat", OneHotEncoder(handle_unknown="ignore"), CAT)])
        p = PMMLPipeline([("ct", ct), ("clf", GradientBoostingClassifier(n_estimators=15, max_depth=2, subsample=0.8, random_state=1))])
        case(fx, n, X, y, p, "GradientBoostingClassifier, 3 classes, subsample 0.8", edit=unseen, cols=NUM + CAT)

    @add("469-sweep2-linearsvc-multiclass")
    def _(fx, n):
        X, y = data(469)
        ct = ColumnTransformer([("num", StandardScaler(), NUM), ("cat", OneHotEncoder(handle_unknown="ignore"), CAT)])
        p = PMMLPipeline([("ct", ct), ("clf", LinearSVC(max_iter=5000, dual="auto"))])
        case(fx, n, X, y, p, "LinearSVC one-vs-rest, 3 classes", missing=0.0, edit=unseen, cols=NUM + CAT)

    @add("470-sweep2-multinomial-nb")
    def _(fx, n):
        X, y = data(470)
        ct = ColumnTransformer([("num", MinMaxScaler(), NUM), ("cat", OneHotEncoder(handle_unknown="ignore"), CAT)])
        p = PMMLPipeline([("ct", ct), ("clf", MultinomialNB(alpha=0.5))])
        case(fx, n, X, y, p, "MultinomialNB on scaled numbers and one-hot categories", missing=0.0, edit=unseen, cols=NUM + CAT)

    @add("472-sweep2-target-encoder")
    def _(fx, n):
        X, y = data(472, regression=True)
        ct = ColumnTransformer([("te", TargetEncoder(target_type="continuous", random_state=1), CAT), ("num", "passthrough", ["income", "age"])])
        p = PMMLPipeline([("ct", ct), ("reg", LinearRegression())])
        case(fx, n, X, y, p, "TargetEncoder on categories", missing=0.0, edit=unseen, cols=NUM + CAT)

    @add("474-sweep2-truncated-svd")
    def _(fx, n):
        X, y = data(474)
        ct = ColumnTransformer([("num", StandardScaler(), NUM), ("cat", OneHotEncoder(handle_unknown="ignore"), CAT)])
        p = PMMLPipeline([("ct", ct), ("svd", TruncatedSVD(n_components=4, random_state=1)), ("clf", LogisticRegression(max_iter=3000))])
        case(fx, n, X, y, p, "TruncatedSVD then logistic regression", missing=0.0, edit=unseen, cols=NUM + CAT)

    def xgb(seed, est, notes, target=None, n_name=None):
        def f(fx, n):
            X, y = data(seed, regression=target != "class")
            if target == "class":
                y = y.map({"churn": 0, "stay": 1, "upgrade": 2})
            elif target == "binary":
                y = (y > y.median()).astype(int)
            elif target == "positive":
                y = y.abs() / 100 + 1.0
            ct = ColumnTransformer([("num", "passthrough", NUM), ("cat", OneHotEncoder(handle_unknown="ignore"), CAT)])
            p = PMMLPipeline([("ct", ct), ("m", est)])
            case(fx, n, X, y, p, notes, missing=0.05, edit=unseen, cols=NUM + CAT)
        return f

    c["475-sweep2-xgb-multi-softmax"] = xgb(475, XGBClassifier(objective="multi:softmax", n_estimators=15, max_depth=3, random_state=1), "XGBoost multi:softmax, 3 classes", "class")
    c["476-sweep2-xgb-reg-gamma"] = xgb(476, XGBRegressor(objective="reg:gamma", n_estimators=20, max_depth=3, random_state=1), "XGBoost reg:gamma", "positive")
    c["477-sweep2-xgb-reg-tweedie"] = xgb(477, XGBRegressor(objective="reg:tweedie", tweedie_variance_power=1.4, n_estimators=20, max_depth=3, random_state=1), "XGBoost reg:tweedie", "positive")
    c["478-sweep2-xgb-reg-squaredlogerror"] = xgb(478, XGBRegressor(objective="reg:squaredlogerror", n_estimators=20, max_depth=3, random_state=1), "XGBoost reg:squaredlogerror", "positive")
    c["479-sweep2-xgb-reg-logistic"] = xgb(479, XGBRegressor(objective="reg:logistic", n_estimators=20, max_depth=3, random_state=1), "XGBoost reg:logistic on a 0/1 target", "binary")
    c["480-sweep2-xgb-reg-absoluteerror"] = xgb(480, XGBRegressor(objective="reg:absoluteerror", n_estimators=20, max_depth=3, random_state=1), "XGBoost reg:absoluteerror")
    c["481-sweep2-xgb-reg-pseudohuber"] = xgb(481, XGBRegressor(objective="reg:pseudohubererror", n_estimators=20, max_depth=3, random_state=1), "XGBoost reg:pseudohubererror")

    @add("482-sweep2-xgb-ranker-pairwise")
    def _(fx, n):
        from xgboost import XGBRanker
        X, y = data(482, regression=True)
        y = pandas.Series(pandas.qcut(y, 4, labels=False), name="y")
        X = X[NUM]
        est = XGBRanker(objective="rank:pairwise", n_estimators=15, max_depth=3, random_state=1)
        p = PMMLPipeline([("m", est)])
        p.fit(X.iloc[:800], y.iloc[:800], m__qid=numpy.repeat(numpy.arange(80), 10))
        test = with_missing(X.iloc[800:], 482, 0.04)
        write(fx, n, p, input_rows(test, 482, 300), {"family": "sweep2", "estimator": "XGBRanker rank:pairwise", "notes": "ranking scores"})

    def lgbm(seed, est, notes, target=None, categorical=False):
        def f(fx, n):
            X, y = data(seed, regression=target != "class")
            if target == "positive":
                y = (y.abs() / 100).round() + 1.0
            elif target == "binary":
                y = (y > y.median()).astype(float)
            if categorical:
                ct = ColumnTransformer([("num", "passthrough", NUM), ("cat", OrdinalEncoder(), CAT)])
                p = PMMLPipeline([("ct", ct), ("m", est)])
                p.fit(X[NUM + CAT].iloc[:800], y.iloc[:800], m__categorical_feature=[4, 5])
                test = with_missing(X[NUM + CAT].iloc[800:], seed, 0.05)
                write(fx, n, p, input_rows(test, seed, 300), {"family": "sweep2", "estimator": repr(est)[:200], "notes": notes})
                return
            ct = ColumnTransformer([("num", "passthrough", NUM), ("cat", OneHotEncoder(handle_unknown="ignore"), CAT)])
            p = PMMLPipeline([("ct", ct), ("m", est)])
            case(fx, n, X, y, p, notes, missing=0.05, edit=unseen, cols=NUM + CAT)
        return f

    c["483-sweep2-lgbm-quantile"] = lgbm(483, LGBMRegressor(objective="quantile", alpha=0.7, n_estimators=15, num_leaves=8, random_state=1, verbose=-1), "LightGBM quantile regression")
    c["484-sweep2-lgbm-poisson"] = lgbm(484, LGBMRegressor(objective="poisson", n_estimators=20, num_leaves=8, random_state=1, verbose=-1), "LightGBM poisson", "positive")
    c["485-sweep2-lgbm-tweedie"] = lgbm(485, LGBMRegressor(objective="tweedie", n_estimators=20, num_leaves=8, random_state=1, verbose=-1), "LightGBM tweedie", "positive")
    c["486-sweep2-lgbm-huber"] = lgbm(486, LGBMRegressor(objective="huber", n_estimators=20, num_leaves=8, random_state=1, verbose=-1), "LightGBM huber")
    c["487-sweep2-lgbm-categorical-splits"] = lgbm(487, LGBMClassifier(n_estimators=20, num_leaves=8, min_data_per_group=5, cat_smooth=1, random_state=1, verbose=-1), "LightGBM native categorical splits (set predicates), 3 classes", "class", categorical=True)
    c["488-sweep2-lgbm-gamma"] = lgbm(488, LGBMRegressor(objective="gamma", n_estimators=20, num_leaves=8, random_state=1, verbose=-1), "LightGBM gamma", "positive")
    c["489-sweep2-lgbm-binary-categorical"] = lgbm(489, LGBMClassifier(n_estimators=20, num_leaves=8, min_data_per_group=5, random_state=1, verbose=-1), "LightGBM binary with categorical splits", "class", categorical=True)

    @add("490-sweep2-ruleset-classifier")
    def _(fx, n):
        X, y = data(490)
        rules = [("X['income'] > 60000", "churn"), ("(X['age'] > 60) and (X['balance'] > 3000)", "churn"),
                 ("(X['tenure'] < 24) or (X['age'] <= 25)", "upgrade"), ("X['balance'] < 1000", "upgrade")]
        p = PMMLPipeline([("m", RuleSetClassifier(rules, default_score="stay"))])
        case(fx, n, X, y, p, "RuleSetClassifier: first matching rule, default score", cols=NUM)

    @add("491-sweep2-expression-missing-checks")
    def _(fx, n):
        X, y = data(491, regression=True)
        ct = ColumnTransformer([
            ("e1", ExpressionTransformer("-1.0 if pandas.isnull(X[0]) else X[0] * 2.0 + X[1] * 0.0"), ["age", "income"]),
            ("e2", ExpressionTransformer("X[0] if pandas.notnull(X[0]) else X[1]"), ["balance", "income"]),
            ("e3", ExpressionTransformer("numpy.log(X[0] + 1.0) if X[0] > 0 else X[1]"), ["income", "age"])])
        p = PMMLPipeline([("ct", ct), ("imp", SimpleImputer()), ("reg", LinearRegression())])
        case(fx, n, X, y, p, "ExpressionTransformer with isnull/notnull checks and numpy.log", missing=0.08, cols=["age", "balance", "income"])

    return c


if __name__ == "__main__":
    fx = sys.argv[1]
    all_cases = cases()
    for name in sys.argv[2:] or list(all_cases):
        try:
            all_cases[name](fx, name)
        except Exception as e:
            print(f"{name}: not made: {type(e).__name__}: {str(e)[:400]}", file=sys.stderr)
