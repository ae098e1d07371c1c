"""A sweep of scikit-learn, XGBoost and LightGBM pipelines through sklearn2pmml: many
estimators behind many of sklearn2pmml's and scikit-learn's transformers, on small
datasets with missing and unseen values. Each pipeline that converts becomes a case;
`jpmml.py` then scores them with JPMML.

Usage: python make_sweep.py FIXTURES_DIR [CASE_NAME...]
"""

import sys

import numpy
import pandas
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.ensemble import (AdaBoostRegressor, GradientBoostingRegressor, HistGradientBoostingClassifier,
                              ExtraTreesRegressor, GradientBoostingClassifier, IsolationForest, RandomForestClassifier,
                              RandomForestRegressor, StackingClassifier, VotingRegressor)
from sklearn.feature_selection import SelectKBest, VarianceThreshold, f_classif
from sklearn.impute import SimpleImputer
from sklearn.linear_model import ElasticNet, HuberRegressor, Lasso, LogisticRegression, SGDClassifier, RidgeClassifier
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (Binarizer, KBinsDiscretizer, MaxAbsScaler, MinMaxScaler, OneHotEncoder,
                                   OrdinalEncoder, PolynomialFeatures, RobustScaler, StandardScaler)
from sklearn.svm import NuSVC, LinearSVR, SVC
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn2pmml.decoration import Alias, CategoricalDomain, ContinuousDomain
from sklearn2pmml.pipeline import PMMLPipeline
from sklearn2pmml.preprocessing import ExpressionTransformer, PowerFunctionTransformer
from lightgbm import LGBMRegressor
from xgboost import XGBClassifier, XGBRegressor

from make_sklearn import customers, input_rows, with_missing, write

NUM = ["age", "income", "balance", "tenure_months"]
CAT = ["segment", "region"]


def data(seed, regression=False):
    X, y = customers(seed)
    if regression:
        y = pandas.Series(X["balance"] * 0.3 + X["income"] / 100 + (X["segment"] == "business") * 500, name="y")
        X = X.drop(columns=["balance"])
    return X, y


def numeric(X):
    return [c for c in NUM if c in X.columns]


def case(fx, name, X, y, pipeline, notes, missing=0.05, unseen=False, fill=None):
    pipeline.fit(X.iloc[:900], y.iloc[:900])
    test = X.iloc[900:]
    if missing:
        test = with_missing(test, len(name), missing)
    if fill is not None:
        test = test.fillna(fill)
    inp = input_rows(test, len(name), 300)
    if unseen:
        inp = inp.astype(object)
        inp.loc[[3, 50, 120], "segment"] = "vip"
    write(fx, name, pipeline, inp, {"family": "sweep", "estimator": repr(pipeline.steps[-1][1])[:200], "notes": notes})


def impute_scale_onehot(X, scaler):
    return ColumnTransformer([
        ("num", Pipeline([("imp", SimpleImputer(strategy="median")), ("sc", scaler)]), numeric(X)),
        ("cat", Pipeline([("imp", SimpleImputer(strategy="most_frequent")), ("oh", OneHotEncoder(handle_unknown="ignore"))]), CAT)])


def cases():
    c = {}

    def add(name):
        def deco(f):
            c[name] = f
            return f
        return deco

    @add("301-sweep-robust-poly-elasticnet")
    def _(fx, n):
        X, y = data(301, regression=True)
        p = PMMLPipeline([("ct", impute_scale_onehot(X, RobustScaler())), ("poly", PolynomialFeatures(degree=2, interaction_only=True)),
                          ("reg", ElasticNet(alpha=0.1, l1_ratio=0.3, max_iter=5000))])
        case(fx, n, X, y, p, "SimpleImputer, RobustScaler, OneHotEncoder(ignore), interaction PolynomialFeatures", unseen=True)

    @add("302-sweep-kbins-binarizer-nb")
    def _(fx, n):
        X, y = data(302)
        ct = ColumnTransformer([
            ("kb", KBinsDiscretizer(n_bins=5, encode="onehot-dense", strategy="quantile"), ["age", "income"]),
            ("bin", Binarizer(threshold=2000.0), ["balance"]),
            ("mm", MinMaxScaler(), ["tenure_months"])])
        p = PMMLPipeline([("ct", ct), ("clf", GaussianNB())])
        case(fx, n, X, y, p, "KBinsDiscretizer(quantile, onehot-dense), Binarizer, MinMaxScaler, GaussianNB", missing=0.0)

    @add("303-sweep-pca-knn-classifier")
    def _(fx, n):
        X, y = data(303)
        p = PMMLPipeline([("ct", impute_scale_onehot(X, StandardScaler())), ("pca", PCA(n_components=4, random_state=1)),
                          ("clf", KNeighborsClassifier(n_neighbors=7, weights="distance"))])
        case(fx, n, X, y, p, "PCA then distance-weighted KNN")

    @add("304-sweep-selectkbest-lda")
    def _(fx, n):
        X, y = data(304)
        p = PMMLPipeline([("ct", impute_scale_onehot(X, MaxAbsScaler())), ("vt", VarianceThreshold(0.0)),
                          ("kb", SelectKBest(f_classif, k=5)), ("clf", LinearDiscriminantAnalysis())])
        case(fx, n, X, y, p, "MaxAbsScaler, VarianceThreshold, SelectKBest, LinearDiscriminantAnalysis")

    @add("305-sweep-sgd-hinge")
    def _(fx, n):
        X, y = data(305)
        p = PMMLPipeline([("ct", impute_scale_onehot(X, StandardScaler())), ("clf", SGDClassifier(loss="log_loss", random_state=1))])
        case(fx, n, X, y, p, "SGDClassifier(log_loss), multi-class one-vs-rest")

    @add("306-sweep-nusvc-poly")
    def _(fx, n):
        X, y = data(306)
        p = PMMLPipeline([("ct", impute_scale_onehot(X, StandardScaler())), ("clf", NuSVC(kernel="poly", degree=2, nu=0.3))])
        case(fx, n, X, y, p, "NuSVC with a polynomial kernel, 3 classes")

    @add("307-sweep-svc-sigmoid-ovr")
    def _(fx, n):
        X, y = data(307)
        p = PMMLPipeline([("ct", impute_scale_onehot(X, StandardScaler())), ("clf", SVC(kernel="sigmoid", gamma=0.05, decision_function_shape="ovr"))])
        case(fx, n, X, y, p, "SVC sigmoid kernel")

    @add("308-sweep-linearsvr-huber-voting")
    def _(fx, n):
        X, y = data(308, regression=True)
        p = PMMLPipeline([("ct", impute_scale_onehot(X, StandardScaler())),
                          ("reg", VotingRegressor([("a", LinearSVR(max_iter=5000, random_state=1)), ("b", HuberRegressor(max_iter=500)), ("c", Lasso(alpha=0.5))], weights=[1, 2, 1]))])
        case(fx, n, X, y, p, "weighted VotingRegressor of LinearSVR, HuberRegressor, Lasso")

    @add("309-sweep-adaboost-regressor")
    def _(fx, n):
        X, y = data(309, regression=True)
        p = PMMLPipeline([("ct", impute_scale_onehot(X, StandardScaler())), ("reg", AdaBoostRegressor(DecisionTreeRegressor(max_depth=3), n_estimators=15, random_state=1))])
        case(fx, n, X, y, p, "AdaBoostRegressor: a weighted median of trees")

    @add("310-sweep-rf-regressor-nan")
    def _(fx, n):
        X, y = data(310, regression=True)
        p = PMMLPipeline([("ct", ColumnTransformer([("num", "passthrough", numeric(X)), ("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), CAT)])),
                          ("reg", RandomForestRegressor(n_estimators=10, max_depth=6, random_state=1))])
        case(fx, n, X, y, p, "RandomForestRegressor on numbers with NaN (trees route missing values), OrdinalEncoder", missing=0.05, unseen=True)

    @add("311-sweep-hgb-classifier-multiclass")
    def _(fx, n):
        X, y = data(311)
        p = PMMLPipeline([("ct", ColumnTransformer([("num", "passthrough", numeric(X)), ("cat", OrdinalEncoder(), CAT)])),
                          ("clf", HistGradientBoostingClassifier(max_iter=30, categorical_features=[4, 5], random_state=1))])
        case(fx, n, X, y, p, "HistGradientBoostingClassifier, 3 classes, native categorical splits, NaN in numbers")

    @add("313-sweep-xgb-poisson")
    def _(fx, n):
        X, y = data(313, regression=True)
        y = (y.abs() / 1000).round()
        p = PMMLPipeline([("ct", ColumnTransformer([("num", "passthrough", numeric(X)), ("cat", OneHotEncoder(), CAT)])),
                          ("reg", XGBRegressor(objective="count:poisson", n_estimators=30, max_depth=3, random_state=1))])
        case(fx, n, X, y, p, "XGBoost count:poisson (exp of the float32 sum)")

    @add("314-sweep-xgb-binary-logitraw")
    def _(fx, n):
        X, y = data(314)
        y = (y == "churn").astype(int)
        p = PMMLPipeline([("ct", ColumnTransformer([("num", "passthrough", numeric(X)), ("cat", OneHotEncoder(), CAT)])),
                          ("clf", XGBClassifier(n_estimators=40, max_depth=4, random_state=1, missing=numpy.nan))])
        case(fx, n, X, y, p, "XGBoost binary with NaN routing")

    @add("315-sweep-stacking-classifier")
    def _(fx, n):
        X, y = data(315)
        p = PMMLPipeline([("ct", impute_scale_onehot(X, StandardScaler())),
                          ("clf", StackingClassifier([("dt", DecisionTreeClassifier(max_depth=3, random_state=1)), ("lr", LogisticRegression(max_iter=1000))],
                                                     final_estimator=LogisticRegression(max_iter=1000)))])
        case(fx, n, X, y, p, "StackingClassifier of a tree and a logistic regression, 3 classes")

    @add("316-sweep-mlp-classifier-tanh")
    def _(fx, n):
        X, y = data(316)
        p = PMMLPipeline([("ct", impute_scale_onehot(X, StandardScaler())), ("clf", MLPClassifier(hidden_layer_sizes=(8, 4), activation="tanh", max_iter=800, random_state=1))])
        case(fx, n, X, y, p, "MLPClassifier tanh, two hidden layers, 3 classes")

    @add("317-sweep-isolation-forest-nan")
    def _(fx, n):
        X, y = data(317)
        p = PMMLPipeline([("ct", ColumnTransformer([("num", SimpleImputer(), numeric(X))])), ("iso", IsolationForest(n_estimators=20, random_state=1))])
        case(fx, n, X, y, p, "IsolationForest behind SimpleImputer")

    @add("318-sweep-power-function")
    def _(fx, n):
        X, y = data(318)
        X = X.copy()
        X["segment"] = X["segment"].str.upper()
        ct = ColumnTransformer([
            ("seg", Pipeline([("d", CategoricalDomain()), ("oh", OneHotEncoder(handle_unknown="ignore"))]), ["segment"]),
            ("pow", PowerFunctionTransformer(power=2), ["age"]),
            ("num", StandardScaler(), ["income", "tenure_months"])])
        p = PMMLPipeline([("ct", ct), ("clf", LogisticRegression(max_iter=2000))])
        case(fx, n, X, y, p, "PowerFunctionTransformer, upper-case categories", missing=0.0)

    @add("319-sweep-domains-knn-regressor")
    def _(fx, n):
        X, y = data(319, regression=True)
        ct = ColumnTransformer([
            ("num", Pipeline([("d", ContinuousDomain(missing_value_replacement=40.0, missing_value_treatment="as_value")), ("sc", StandardScaler())]), numeric(X)),
            ("cat", Pipeline([("d", CategoricalDomain(invalid_value_treatment="as_missing", missing_value_treatment="as_value", missing_value_replacement="retail")),
                              ("oh", OneHotEncoder(handle_unknown="ignore"))]), CAT)])
        p = PMMLPipeline([("ct", ct), ("reg", KNeighborsRegressor(n_neighbors=5))])
        case(fx, n, X, y, p, "domains with replacement values, uniform KNN regressor", unseen=True)

    @add("320-sweep-gbr-huber-quantile")
    def _(fx, n):
        X, y = data(320, regression=True)
        p = PMMLPipeline([("ct", impute_scale_onehot(X, StandardScaler())), ("reg", GradientBoostingRegressor(loss="quantile", alpha=0.8, n_estimators=30, max_depth=3, random_state=1))])
        case(fx, n, X, y, p, "GradientBoostingRegressor(quantile)")

    @add("321-sweep-lgbm-regressor-nan")
    def _(fx, n):
        X, y = data(321, regression=True)
        p = PMMLPipeline([("ct", ColumnTransformer([("num", "passthrough", numeric(X)), ("cat", OrdinalEncoder(), CAT)])),
                          ("reg", LGBMRegressor(n_estimators=30, num_leaves=12, random_state=1, verbose=-1))])
        case(fx, n, X, y, p, "LightGBM regression with NaN")

    @add("322-sweep-ridge-classifier-alias")
    def _(fx, n):
        X, y = data(322)
        ct = ColumnTransformer([
            ("ratio", Alias(ExpressionTransformer("X[0] / X[1]"), "income_per_year", prefit=True), ["income", "age"]),
            ("rest", impute_scale_onehot(X, StandardScaler()), NUM + CAT)])
        p = PMMLPipeline([("ct", ct), ("clf", RidgeClassifier())])
        case(fx, n, X, y, p, "Alias'ed ExpressionTransformer, RidgeClassifier", missing=0.0)

    @add("323-sweep-adaboost-domains-minmax")
    def _(fx, n):
        X, y = data(323, regression=True)
        ct = ColumnTransformer([
            ("num", Pipeline([("d", ContinuousDomain(missing_value_replacement=35.0, missing_value_treatment="as_value")), ("sc", MinMaxScaler())]), numeric(X)),
            ("cat", Pipeline([("d", CategoricalDomain(invalid_value_treatment="as_missing", missing_value_treatment="as_value", missing_value_replacement="retail")),
                              ("oh", OneHotEncoder(handle_unknown="ignore"))]), CAT)])
        p = PMMLPipeline([("ct", ct), ("reg", AdaBoostRegressor(DecisionTreeRegressor(max_depth=5), n_estimators=40, loss="square", random_state=3))])
        case(fx, n, X, y, p, "AdaBoostRegressor(square loss) over domains with replacement values and a min-max scaler: a weighted median of deeper trees",
             missing=0.15, unseen=True)

    @add("324-sweep-adaboost-exponential-imputed")
    def _(fx, n):
        X, y = data(324, regression=True)
        p = PMMLPipeline([("ct", impute_scale_onehot(X, MaxAbsScaler())), ("reg", AdaBoostRegressor(DecisionTreeRegressor(max_depth=2), n_estimators=60, loss="exponential", random_state=5))])
        case(fx, n, X, y, p, "AdaBoostRegressor(exponential loss), 60 stumps of depth 2 over max-abs scaled inputs", missing=0.3)

    @add("327-sweep-gbr-scaled-missing")
    def _(fx, n):
        X, y = data(327, regression=True)
        p = PMMLPipeline([("ct", impute_scale_onehot(X, StandardScaler())), ("reg", GradientBoostingRegressor(n_estimators=40, max_depth=4, random_state=2))])
        case(fx, n, X, y, p, "GradientBoostingRegressor over standard-scaled inputs: a sum of trees testing derived fields", missing=0.2, unseen=True)

    @add("328-sweep-rf-classifier-maxabs-domains")
    def _(fx, n):
        X, y = data(328)
        ct = ColumnTransformer([
            ("num", Pipeline([("d", ContinuousDomain(invalid_value_treatment="as_missing", missing_value_replacement=50.0, missing_value_treatment="as_value")), ("sc", MaxAbsScaler())]), numeric(X)),
            ("cat", Pipeline([("d", CategoricalDomain(invalid_value_treatment="as_missing", missing_value_treatment="as_value", missing_value_replacement="retail")),
                              ("oh", OneHotEncoder(handle_unknown="ignore"))]), CAT)])
        p = PMMLPipeline([("ct", ct), ("clf", RandomForestClassifier(n_estimators=15, max_depth=6, random_state=4))])
        case(fx, n, X, y, p, "RandomForestClassifier over domains and max-abs scaled inputs: votes of trees testing derived fields", missing=0.15, unseen=True)

    @add("329-sweep-extratrees-regressor-minmax")
    def _(fx, n):
        X, y = data(329, regression=True)
        p = PMMLPipeline([("ct", impute_scale_onehot(X, MinMaxScaler())), ("reg", ExtraTreesRegressor(n_estimators=12, max_depth=5, random_state=6))])
        case(fx, n, X, y, p, "ExtraTreesRegressor over min-max scaled inputs: an average of trees testing derived fields", missing=0.1)

    @add("330-sweep-gbc-multiclass-scaled")
    def _(fx, n):
        X, y = data(330)
        p = PMMLPipeline([("ct", impute_scale_onehot(X, StandardScaler())), ("clf", GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=7))])
        case(fx, n, X, y, p, "GradientBoostingClassifier over standard-scaled inputs", missing=0.1, unseen=True)

    return c


if __name__ == "__main__":
    fx = sys.argv[1]
    all_cases = cases()
    for name in sys.argv[2:] or list(all_cases):
        try:
            all_cases[name](fx, name)
        except Exception as e:
            print(f"{name}: not made: {type(e).__name__}: {str(e)[:300]}", file=sys.stderr)
