"""Exports scikit-learn, LightGBM and XGBoost pipelines with nyoka 5.5.0 (the Software AG
exporter, a different writer of PMML than sklearn2pmml) as conformance cases 400-459
(model.pmml, input.csv, case.json); `jpmml.py` then scores them with JPMML.

nyoka needs an older scikit-learn than the training environment has: run this with a
Python that has nyoka==5.5.0, scikit-learn==1.3.2, sklearn-pandas==2.2.0, numpy<2,
pandas<2.2, lightgbm==4.6.0 and xgboost==2.1.4, e.g.

    python3 -m venv /tmp/nyoka-env
    /tmp/nyoka-env/bin/pip install nyoka==5.5.0 scikit-learn==1.3.2 sklearn-pandas==2.2.0 \
        "numpy<2" "pandas<2.2" lightgbm==4.6.0 xgboost==2.1.4
    /tmp/nyoka-env/bin/python make_nyoka.py FIXTURES_DIR [CASE_NAME...]

then score the cases with the oracle's Python (`jpmml.py`).
"""

import json
import re
import sys
from pathlib import Path

import numpy
import pandas
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine, make_classification
from sklearn.decomposition import PCA
from sklearn.ensemble import (ExtraTreesClassifier, ExtraTreesRegressor, GradientBoostingClassifier,
                              GradientBoostingRegressor, IsolationForest, RandomForestClassifier,
                              RandomForestRegressor)
from sklearn.cluster import KMeans
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression, RidgeClassifier, SGDClassifier
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.preprocessing import (Binarizer, LabelBinarizer, LabelEncoder, MaxAbsScaler, MinMaxScaler, OneHotEncoder,
                                   PolynomialFeatures, RobustScaler, StandardScaler)
from sklearn.svm import SVC, SVR, LinearSVC, LinearSVR, OneClassSVM
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor, ExtraTreeRegressor
from sklearn_pandas import DataFrameMapper
from lightgbm import LGBMClassifier, LGBMRegressor
from xgboost import XGBClassifier, XGBRegressor
from nyoka import lgb_to_pmml, skl_to_pmml, xgboost_to_pmml


def frame(loader, target="y"):
    d = loader()
    X = pandas.DataFrame(d.data, columns=[re.sub(r"[^A-Za-z0-9_]", "_", c) for c in d.feature_names])
    if hasattr(d, "target_names") and d.target_names is not None and loader is not load_diabetes:
        y = pandas.Series([str(d.target_names[i]) for i in d.target], name=target)
    else:
        y = pandas.Series(d.target, name=target)
    return X, y


def customers(seed, n=1000):
    rng = numpy.random.default_rng(seed)
    X = pandas.DataFrame({
        "age": rng.integers(18, 90, n).astype(float),
        "income": numpy.round(rng.gamma(4, 9000, n), 1),
        "balance": numpy.round(rng.normal(4000, 2500, n), 2),
        "tenure": rng.integers(0, 300, n).astype(float),
        "segment": rng.choice(["retail", "student", "business", "private"], n),
        "region": rng.choice(["north", "south", "east", "west"], n),
    })
    score = (X["income"] / 30000 + (X["segment"] == "business") * 1.2 - (X["region"] == "south") * 0.8
             + X["balance"] / 5000 + rng.normal(0, 0.6, n))
    y = pandas.Series(numpy.where(score > 2.0, "churn", numpy.where(score > 1.2, "stay", "upgrade")), name="y")
    yr = pandas.Series(numpy.round(score * 1000 + X["age"] * 3, 3), name="y")
    return X, y, yr


def with_missing(X, seed, share):
    if not share:
        return X
    rng = numpy.random.default_rng(seed)
    return X.mask(rng.random(X.shape) < share)


def input_rows(X, seed, rows):
    rng = numpy.random.default_rng(seed + 1)
    idx = rng.choice(len(X), size=min(rows, len(X)), replace=False)
    return X.iloc[idx].reset_index(drop=True)


def export(kind, pipeline, cols, target, path):
    if kind == "lgb":
        lgb_to_pmml(pipeline, cols, target, str(path))
    elif kind == "xgb":
        xgboost_to_pmml(pipeline, cols, target, str(path))
    else:
        skl_to_pmml(pipeline, cols, target, str(path))


def write(fx, name, pipeline, X, y, notes, kind="skl", missing=0.0, rows=300, ids=False, edit=None, target="y", strip_output=False):
    pipeline.fit(X, y)
    d = Path(fx) / name
    d.mkdir(parents=True, exist_ok=True)
    export(kind, pipeline, list(X.columns), target, d / "model.pmml")
    text = (d / "model.pmml").read_text()
    text = re.sub(r"\s*<Timestamp>.*?</Timestamp>", "", text, flags=re.S)
    if strip_output == "probability":
        # JPMML's nearest-neighbour result has no probabilities: keep the other outputs.
        text = re.sub(r"\s*<OutputField [^>]*feature=\"probability\"[^>]*/>", "", text)
    elif strip_output:
        # The top-level Output repeats the names of the chain's last segment's outputs,
        # which JPMML refuses for every record: without it the document scores.
        text = re.sub(r"\s*<Output>.*?</Output>", "", text, count=1, flags=re.S)
    (d / "model.pmml").write_text(text)
    seed = int(name[:3])
    inp = input_rows(with_missing(X, seed, missing), seed, rows)
    if edit is not None:
        inp = edit(inp.astype(object))
    if ids:
        inp.insert(0, "Id", range(1, len(inp) + 1))
    inp.to_csv(d / "input.csv", index=False, na_rep="")
    est = pipeline.steps[-1][1]
    source = "nyoka 5.5.0 (scikit-learn 1.3.2)" + {False: "", True: ", its top-level Output removed",
                                                   "probability": ", its probability outputs removed"}[strip_output]
    meta = {"name": name, "suite": "styx", "family": "nyoka", "source": source,
            "converter": "nyoka 5.5.0", "estimator": repr(est)[:200],
            "transforms": [type(s[1]).__name__ for s in pipeline.steps[:-1]], "notes": notes}
    (d / "case.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(name, file=sys.stderr)


def iris():
    return frame(load_iris)


def wine():
    return frame(load_wine)


def cancer(cols=10):
    X, y = frame(load_breast_cancer)
    return X.iloc[:, :cols], y


def diabetes():
    X, y = frame(load_diabetes)
    return X, y.astype(float)


def synthetic(seed, classes=3, n=800):
    X, y = make_classification(n_samples=n, n_features=6, n_informative=4, n_classes=classes,
                               n_clusters_per_class=1, random_state=seed)
    return pandas.DataFrame(X, columns=[f"x{i}" for i in range(6)]), pandas.Series([f"k{v}" for v in y], name="y")


def num_target(y):
    labels = sorted(set(y))
    return y.map({v: i for i, v in enumerate(labels)})


def cust_mapper(onehot=False, scaler=None):
    num = [(c, [scaler()] if scaler else None) for c in ["age", "income", "balance", "tenure"]]
    enc = (lambda: LabelBinarizer()) if onehot else (lambda: LabelEncoder())
    return DataFrameMapper([(["age"], [StandardScaler()] if scaler else None), (["income"], [scaler()] if scaler else None),
                            (["balance"], [scaler()] if scaler else None), (["tenure"], [scaler()] if scaler else None),
                            ("segment", enc()), ("region", enc())])


def cust_unseen(inp):
    inp.loc[[3, 40, 77], "segment"] = "vip"
    inp.loc[[5, 90], "region"] = "central"
    return inp


CASES = {}


def case(name):
    def deco(f):
        CASES[name] = f
        return f
    return deco


@case("400-nyoka-logreg-minmax-wine")
def _(fx, n):
    X, y = wine()
    write(fx, n, Pipeline([("mm", MinMaxScaler()), ("clf", LogisticRegression(max_iter=3000))]), X, y,
          "multinomial logistic regression behind MinMaxScaler (NormContinuous-free Apply arithmetic)", missing=0.02)


@case("401-nyoka-logreg-binary-cancer")
def _(fx, n):
    X, y = cancer()
    write(fx, n, Pipeline([("sc", StandardScaler()), ("clf", LogisticRegression(max_iter=3000))]), X, y,
          "binary logistic regression: nyoka's one-vs-rest RegressionModel chain", missing=0.02, ids=True)


@case("402-nyoka-linreg-poly-diabetes")
def _(fx, n):
    X, y = diabetes()
    X = X.iloc[:, :4]
    write(fx, n, Pipeline([("poly", PolynomialFeatures(degree=2)), ("reg", LinearRegression())]), X, y,
          "PolynomialFeatures(2) then LinearRegression", missing=0.02)


@case("403-nyoka-linreg-pca-imputer-diabetes")
def _(fx, n):
    X, y = diabetes()
    write(fx, n, Pipeline([("imp", SimpleImputer(strategy="mean")), ("pca", PCA(n_components=5)), ("reg", LinearRegression())]), X, y,
          "SimpleImputer(mean) as MiningField replacement, PCA, LinearRegression", missing=0.05)


@case("404-nyoka-dtree-classifier-iris")
def _(fx, n):
    X, y = iris()
    write(fx, n, Pipeline([("clf", DecisionTreeClassifier(max_depth=4, random_state=404))]), X, y,
          "decision tree, missing cells (no missingValueStrategy)", missing=0.05)


@case("405-nyoka-dtree-regressor-diabetes")
def _(fx, n):
    X, y = diabetes()
    write(fx, n, Pipeline([("reg", DecisionTreeRegressor(max_depth=6, random_state=405))]), X, y,
          "regression tree with missing cells", missing=0.05, ids=True)


@case("406-nyoka-rf-classifier-cancer")
def _(fx, n):
    X, y = cancer()
    write(fx, n, Pipeline([("clf", RandomForestClassifier(n_estimators=15, max_depth=5, random_state=406))]), X, y,
          "random forest majority vote, missing cells", missing=0.03)


@case("407-nyoka-rf-regressor-diabetes")
def _(fx, n):
    X, y = diabetes()
    write(fx, n, Pipeline([("reg", RandomForestRegressor(n_estimators=12, max_depth=5, random_state=407))]), X, y,
          "random forest average", missing=0.03)


@case("408-nyoka-lgbm-multiclass-chain-outputs")
def _(fx, n):
    X, y = wine()
    write(fx, n, Pipeline([("clf", LGBMClassifier(n_estimators=15, num_leaves=6, min_child_samples=5, random_state=408, verbose=-1))]), X, y,
          "LightGBM 3 classes (as 414) without the top-level Output: the chain's last segment's outputs are the results; "
          "rows whose trees meet a missing value (no missingValueStrategy, nodes without scores) fail in JPMML and are dropped",
          kind="lgb", missing=0.03, strip_output=True)


@case("409-nyoka-xgb-binary-chain-outputs")
def _(fx, n):
    X, y = cancer()
    write(fx, n, Pipeline([("clf", XGBClassifier(n_estimators=20, max_depth=3, random_state=409))]), X, num_target(y),
          "XGBoost binary (as 416) without the top-level Output: the last segment's outputs are the results",
          kind="xgb", missing=0.03, strip_output=True)


@case("410-nyoka-gbc-binary-cancer")
def _(fx, n):
    X, y = cancer()
    write(fx, n, Pipeline([("clf", GradientBoostingClassifier(n_estimators=25, max_depth=3, random_state=410))]), X, y,
          "gradient boosting, binary: sum of trees then logit regression", missing=0.03)


@case("411-nyoka-gbc-multiclass-iris")
def _(fx, n):
    X, y = iris()
    write(fx, n, Pipeline([("sc", StandardScaler()), ("clf", GradientBoostingClassifier(n_estimators=20, max_depth=2, random_state=411))]), X, y,
          "gradient boosting, 3 classes: modelChain of per-class sums then softmax", missing=0.03)


@case("412-nyoka-gbr-diabetes")
def _(fx, n):
    X, y = diabetes()
    write(fx, n, Pipeline([("reg", GradientBoostingRegressor(n_estimators=30, max_depth=3, random_state=412))]), X, y,
          "gradient boosting regression", missing=0.03, ids=True)


@case("413-nyoka-lgbm-binary-cancer")
def _(fx, n):
    X, y = cancer()
    write(fx, n, Pipeline([("clf", LGBMClassifier(n_estimators=25, num_leaves=8, random_state=413, verbose=-1))]), X, y,
          "LightGBM binary", kind="lgb", missing=0.03)


@case("414-nyoka-lgbm-multiclass-wine")
def _(fx, n):
    X, y = wine()
    write(fx, n, Pipeline([("clf", LGBMClassifier(n_estimators=15, num_leaves=6, min_child_samples=5, random_state=414, verbose=-1))]), X, y,
          "LightGBM 3 classes", kind="lgb", missing=0.03)


@case("415-nyoka-lgbm-regressor-diabetes")
def _(fx, n):
    X, y = diabetes()
    write(fx, n, Pipeline([("reg", LGBMRegressor(n_estimators=30, num_leaves=10, random_state=415, verbose=-1))]), X, y,
          "LightGBM regression", kind="lgb", missing=0.03)


@case("416-nyoka-xgb-binary-cancer")
def _(fx, n):
    X, y = cancer()
    write(fx, n, Pipeline([("clf", XGBClassifier(n_estimators=20, max_depth=3, random_state=416))]), X, num_target(y),
          "XGBoost binary:logistic", kind="xgb", missing=0.03)


@case("417-nyoka-xgb-multiclass-iris")
def _(fx, n):
    X, y = iris()
    write(fx, n, Pipeline([("clf", XGBClassifier(n_estimators=15, max_depth=3, random_state=417))]), X, num_target(y),
          "XGBoost multi:softprob, 3 classes", kind="xgb", missing=0.03)


@case("418-nyoka-xgb-regressor-diabetes")
def _(fx, n):
    X, y = diabetes()
    write(fx, n, Pipeline([("reg", XGBRegressor(n_estimators=25, max_depth=3, random_state=418))]), X, y,
          "XGBoost reg:squarederror", kind="xgb", missing=0.03)


@case("419-nyoka-svc-linear-iris")
def _(fx, n):
    X, y = iris()
    write(fx, n, Pipeline([("sc", StandardScaler()), ("clf", SVC(kernel="linear"))]), X, y,
          "SVC linear kernel, one-vs-one, 3 classes")


@case("420-nyoka-svc-poly-wine")
def _(fx, n):
    X, y = wine()
    write(fx, n, Pipeline([("sc", MinMaxScaler()), ("clf", SVC(kernel="poly", degree=3, gamma=0.5, coef0=1.0))]), X, y,
          "SVC polynomial kernel, 3 classes")


@case("421-nyoka-svc-sigmoid-binary")
def _(fx, n):
    X, y = synthetic(421, classes=2)
    write(fx, n, Pipeline([("sc", StandardScaler()), ("clf", SVC(kernel="sigmoid", gamma=0.05))]), X, y,
          "SVC sigmoid kernel, binary")


@case("422-nyoka-svr-rbf-diabetes")
def _(fx, n):
    X, y = diabetes()
    write(fx, n, Pipeline([("sc", StandardScaler()), ("reg", SVR(kernel="rbf", C=50.0))]), X, y,
          "SVR rbf kernel")


@case("423-nyoka-svr-linear-diabetes")
def _(fx, n):
    X, y = diabetes()
    write(fx, n, Pipeline([("reg", SVR(kernel="linear", C=100.0))]), X, y, "SVR linear kernel")


@case("424-nyoka-knn-classifier-wine")
def _(fx, n):
    X, y = wine()
    write(fx, n, Pipeline([("sc", StandardScaler()), ("clf", KNeighborsClassifier(n_neighbors=5))]), X, y,
          "KNN classifier, majority vote")


@case("425-nyoka-knn-regressor-diabetes")
def _(fx, n):
    X, y = diabetes()
    write(fx, n, Pipeline([("reg", KNeighborsRegressor(n_neighbors=7))]), X, y, "KNN regressor, average")


@case("426-nyoka-knn-manhattan-iris")
def _(fx, n):
    X, y = iris()
    write(fx, n, Pipeline([("clf", KNeighborsClassifier(n_neighbors=4, metric="manhattan"))]), X, y,
          "KNN classifier, cityBlock distance, an even k (ties)")


@case("427-nyoka-gaussiannb-iris")
def _(fx, n):
    X, y = iris()
    write(fx, n, Pipeline([("clf", GaussianNB())]), X, y, "GaussianNB", missing=0.03)


@case("428-nyoka-gaussiannb-cancer")
def _(fx, n):
    X, y = cancer()
    write(fx, n, Pipeline([("sc", StandardScaler()), ("clf", GaussianNB())]), X, y, "GaussianNB binary behind StandardScaler", ids=True)


@case("429-nyoka-mlp-classifier-iris")
def _(fx, n):
    X, y = iris()
    write(fx, n, Pipeline([("sc", StandardScaler()), ("clf", MLPClassifier(hidden_layer_sizes=(6,), max_iter=2000, random_state=429))]), X, y,
          "MLP classifier relu, 3 classes")


@case("430-nyoka-mlp-classifier-binary-logistic")
def _(fx, n):
    X, y = cancer()
    write(fx, n, Pipeline([("sc", StandardScaler()), ("clf", MLPClassifier(hidden_layer_sizes=(5, 3), activation="logistic", max_iter=2000, random_state=430))]), X, y,
          "MLP classifier logistic activation, binary")


@case("431-nyoka-mlp-regressor-tanh")
def _(fx, n):
    X, y = diabetes()
    write(fx, n, Pipeline([("sc", StandardScaler()), ("reg", MLPRegressor(hidden_layer_sizes=(8,), activation="tanh", max_iter=3000, random_state=431))]), X, y,
          "MLP regressor tanh")


@case("432-nyoka-kmeans-wine")
def _(fx, n):
    X, y = wine()
    write(fx, n, Pipeline([("sc", StandardScaler()), ("km", KMeans(n_clusters=4, n_init=5, random_state=432))]), X, y,
          "KMeans, 4 clusters behind StandardScaler")


@case("433-nyoka-isolation-forest-cancer")
def _(fx, n):
    X, y = cancer(6)
    write(fx, n, Pipeline([("iso", IsolationForest(n_estimators=15, random_state=433))]), X, y,
          "IsolationForest: path lengths, anomaly score", missing=0.02)


@case("434-nyoka-one-class-svm")
def _(fx, n):
    X, y = cancer(5)
    write(fx, n, Pipeline([("sc", StandardScaler()), ("svm", OneClassSVM(nu=0.1, gamma=0.2))]), X, y,
          "OneClassSVM")


@case("435-nyoka-mapper-labelencoder-rf-customers")
def _(fx, n):
    X, y, _ = customers(435)
    write(fx, n, Pipeline([("map", cust_mapper()), ("clf", RandomForestClassifier(n_estimators=10, max_depth=6, random_state=435))]), X, y,
          "DataFrameMapper with LabelEncoder (MapValues) on categories, unseen categories", missing=0.03, edit=cust_unseen, ids=True)


@case("436-nyoka-mapper-labelbinarizer-logreg-customers")
def _(fx, n):
    X, y, _ = customers(436)
    write(fx, n, Pipeline([("map", cust_mapper(onehot=True, scaler=StandardScaler)), ("clf", LogisticRegression(max_iter=3000))]), X, y,
          "DataFrameMapper: StandardScaler and LabelBinarizer (NormDiscrete), unseen categories", missing=0.03, edit=cust_unseen)


@case("437-nyoka-mapper-minmax-linreg-customers")
def _(fx, n):
    X, _, y = customers(437)
    write(fx, n, Pipeline([("map", cust_mapper(onehot=True, scaler=MinMaxScaler)), ("reg", LinearRegression())]), X, y,
          "DataFrameMapper: MinMaxScaler and LabelBinarizer, linear regression", missing=0.03, edit=cust_unseen)


@case("438-nyoka-mapper-dtree-regressor-customers")
def _(fx, n):
    X, _, y = customers(438)
    write(fx, n, Pipeline([("map", cust_mapper()), ("reg", DecisionTreeRegressor(max_depth=6, random_state=438))]), X, y,
          "DataFrameMapper LabelEncoder, regression tree", missing=0.03, edit=cust_unseen)


@case("439-nyoka-mapper-gbc-customers")
def _(fx, n):
    X, y, _ = customers(439)
    write(fx, n, Pipeline([("map", cust_mapper(onehot=True)), ("clf", GradientBoostingClassifier(n_estimators=15, max_depth=3, random_state=439))]), X, y,
          "DataFrameMapper LabelBinarizer, gradient boosting 3 classes", missing=0.03, edit=cust_unseen)


@case("440-nyoka-robust-maxabs-ridgeclassifier")
def _(fx, n):
    X, y = synthetic(440, classes=3)
    write(fx, n, Pipeline([("rb", RobustScaler()), ("ma", MaxAbsScaler()), ("clf", RidgeClassifier())]), X, y,
          "RobustScaler and MaxAbsScaler, RidgeClassifier (one-vs-rest scores)", missing=0.02)


@case("441-nyoka-sgd-classifier-binary")
def _(fx, n):
    X, y = synthetic(441, classes=2)
    write(fx, n, Pipeline([("sc", StandardScaler()), ("clf", SGDClassifier(loss="log_loss", random_state=441))]), X, y,
          "SGDClassifier(log_loss), binary")


@case("442-nyoka-linearsvc-multiclass")
def _(fx, n):
    X, y = synthetic(442, classes=4)
    write(fx, n, Pipeline([("sc", StandardScaler()), ("clf", LinearSVC(max_iter=5000, dual=True, random_state=442))]), X, y,
          "LinearSVC one-vs-rest, 4 classes")


@case("443-nyoka-lda-iris")
def _(fx, n):
    X, y = iris()
    write(fx, n, Pipeline([("clf", LinearDiscriminantAnalysis())]), X, y, "LinearDiscriminantAnalysis")


@case("444-nyoka-linearsvr")
def _(fx, n):
    X, y = diabetes()
    write(fx, n, Pipeline([("sc", StandardScaler()), ("reg", LinearSVR(max_iter=20000, C=10.0, random_state=444))]), X, y,
          "LinearSVR")


@case("445-nyoka-binarizer-nb")
def _(fx, n):
    X, y = synthetic(445, classes=3)
    write(fx, n, Pipeline([("bin", Binarizer(threshold=0.2)), ("clf", LogisticRegression(max_iter=2000))]), X, y,
          "Binarizer then logistic regression", missing=0.0)


@case("446-nyoka-lgbm-mapper-labelencoder")
def _(fx, n):
    X, y, _ = customers(446)
    write(fx, n, Pipeline([("map", cust_mapper()), ("clf", LGBMClassifier(n_estimators=15, num_leaves=8, random_state=446, verbose=-1))]), X, y,
          "LightGBM 3 classes behind LabelEncoder", kind="lgb", missing=0.03, edit=cust_unseen)


@case("447-nyoka-xgb-mapper-onehot-regressor")
def _(fx, n):
    X, _, y = customers(447)
    write(fx, n, Pipeline([("map", cust_mapper(onehot=True)), ("reg", XGBRegressor(n_estimators=20, max_depth=4, random_state=447))]), X, y,
          "XGBoost regression behind LabelBinarizer", kind="xgb", missing=0.03, edit=cust_unseen)


@case("448-nyoka-xgb-binary-logitraw")
def _(fx, n):
    X, y = synthetic(448, classes=2)
    write(fx, n, Pipeline([("clf", XGBClassifier(n_estimators=20, max_depth=3, objective="binary:logitraw", random_state=448))]), X, num_target(y),
          "XGBoost binary:logitraw", kind="xgb", missing=0.03)


@case("449-nyoka-lgbm-regressor-poisson")
def _(fx, n):
    X, y = diabetes()
    write(fx, n, Pipeline([("reg", LGBMRegressor(objective="poisson", n_estimators=20, num_leaves=8, random_state=449, verbose=-1))]), X, y,
          "LightGBM poisson (nyoka may ignore the link)", kind="lgb", missing=0.03)


@case("450-nyoka-xgb-multiclass-5")
def _(fx, n):
    X, y = synthetic(450, classes=5)
    write(fx, n, Pipeline([("sc", StandardScaler()), ("clf", XGBClassifier(n_estimators=10, max_depth=3, random_state=450))]), X, num_target(y),
          "XGBoost 5 classes behind StandardScaler", kind="xgb", missing=0.03)


@case("451-nyoka-imputer-median-logreg")
def _(fx, n):
    X, y = synthetic(451, classes=3)
    write(fx, n, Pipeline([("imp", SimpleImputer(strategy="median")), ("sc", StandardScaler()), ("clf", LogisticRegression(max_iter=2000))]), X, y,
          "SimpleImputer(median) then StandardScaler", missing=0.08)


@case("452-nyoka-pca-svc-rbf")
def _(fx, n):
    X, y = wine()
    write(fx, n, Pipeline([("sc", StandardScaler()), ("pca", PCA(n_components=4)), ("clf", SVC(kernel="rbf", gamma=0.3))]), X, y,
          "PCA then SVC rbf, 3 classes")


@case("453-nyoka-poly-ridge-mlp")
def _(fx, n):
    X, y = synthetic(453, classes=2)
    X = X.iloc[:, :3]
    write(fx, n, Pipeline([("poly", PolynomialFeatures(degree=2, interaction_only=True, include_bias=False)), ("sc", StandardScaler()),
                           ("clf", MLPClassifier(hidden_layer_sizes=(4,), activation="identity", max_iter=2000, random_state=453))]), X, y,
          "interaction PolynomialFeatures, identity MLP")


@case("454-nyoka-dtree-classifier-binary-int-target")
def _(fx, n):
    X, y = synthetic(454, classes=2)
    write(fx, n, Pipeline([("clf", DecisionTreeClassifier(max_depth=5, random_state=454))]), X, num_target(y),
          "integer class labels", missing=0.03)


@case("455-nyoka-rf-regressor-imputer")
def _(fx, n):
    X, _, y = customers(455)
    X = X[["age", "income", "balance", "tenure"]]
    write(fx, n, Pipeline([("imp", SimpleImputer(strategy="most_frequent")), ("reg", RandomForestRegressor(n_estimators=8, max_depth=5, random_state=455))]), X, y,
          "SimpleImputer(most_frequent), random forest regression", missing=0.08)


@case("456-nyoka-kmeans-pca")
def _(fx, n):
    X, y = iris()
    write(fx, n, Pipeline([("pca", PCA(n_components=2)), ("km", KMeans(n_clusters=3, n_init=5, random_state=456))]), X, y,
          "PCA then KMeans")


@case("457-nyoka-lgbm-binary-mapper-binarizer")
def _(fx, n):
    X, y, _ = customers(457)
    y = (y == "churn").map({True: "yes", False: "no"})
    write(fx, n, Pipeline([("map", cust_mapper(onehot=True)), ("clf", LGBMClassifier(n_estimators=20, num_leaves=8, random_state=457, verbose=-1))]), X, y,
          "LightGBM binary behind LabelBinarizer", kind="lgb", missing=0.03, edit=cust_unseen)


@case("458-nyoka-gbr-huber-mapper")
def _(fx, n):
    X, _, y = customers(458)
    write(fx, n, Pipeline([("map", cust_mapper()), ("reg", GradientBoostingRegressor(loss="huber", n_estimators=20, max_depth=3, random_state=458))]), X, y,
          "GradientBoostingRegressor(huber) behind LabelEncoder", missing=0.03, edit=cust_unseen)


@case("459-nyoka-extratree-single-regressor")
def _(fx, n):
    X, y = diabetes()
    write(fx, n, Pipeline([("reg", ExtraTreeRegressor(max_depth=6, random_state=459))]), X, y, "a single ExtraTreeRegressor", missing=0.03)


WORDS = ["the", "cat", "dog", "sat", "on", "mat", "barked", "loudly", "pets", "need", "food", "red", "and", "a", "is"]


def texts(seed, n=600):
    """Short texts with punctuation, mixed case, repeated words and a few missing cells."""
    rng = numpy.random.default_rng(seed)
    docs, labels = [], []
    for _ in range(n):
        k = rng.integers(2, 9)
        words = list(rng.choice(WORDS, k))
        words = [w.upper() if rng.random() < 0.1 else (w.capitalize() if rng.random() < 0.2 else w) for w in words]
        text = " ".join(words)
        if rng.random() < 0.3:
            text = text.replace(" ", ", ", 1) + rng.choice(["!", ".", "?", "...", ""])
        if rng.random() < 0.1:
            text = "(" + text + ")"
        docs.append(text)
        low = text.lower()
        labels.append("animal" if ("cat" in low or "dog" in low) and rng.random() < 0.9 else "other")
    X = pandas.DataFrame({"text": docs})
    return X, pandas.Series(labels, name="y")


def write_text(fx, name, pipeline, notes, seed):
    X, y = texts(seed)
    pipeline.fit(X["text"], y)
    d = Path(fx) / name
    d.mkdir(parents=True, exist_ok=True)
    skl_to_pmml(pipeline, ["text"], "y", str(d / "model.pmml"))
    text = re.sub(r"\s*<Timestamp>.*?</Timestamp>", "", (d / "model.pmml").read_text(), flags=re.S)
    (d / "model.pmml").write_text(text)
    inp = X.iloc[:300].copy()
    inp.loc[[5, 77], "text"] = None
    inp.loc[9, "text"] = "   "
    inp.to_csv(d / "input.csv", index=False, na_rep="")
    meta = {"name": name, "suite": "styx", "family": "nyoka", "source": "nyoka 5.5.0 (scikit-learn 1.3.2)",
            "converter": "nyoka 5.5.0", "estimator": repr(pipeline.steps[-1][1])[:200],
            "transforms": [type(s[1]).__name__ for s in pipeline.steps[:-1]], "notes": notes}
    (d / "case.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(name, file=sys.stderr)


@case("495-nyoka-tfidf-logreg-text")
def _(fx, n):
    write_text(fx, n, Pipeline([("v", TfidfVectorizer()), ("clf", LogisticRegression(max_iter=2000))]),
               "TfidfVectorizer: TextIndex counts of each term in the lower-cased text times its idf; punctuation, case, blanks and missing texts", 495)


@case("496-nyoka-count-mlp-text")
def _(fx, n):
    write_text(fx, n, Pipeline([("v", CountVectorizer()), ("clf", MLPClassifier(hidden_layer_sizes=(4,), max_iter=2000, random_state=496))]),
               "CountVectorizer: TextIndex term frequencies into a neural network", 496)


@case("498-nyoka-knn-manhattan-votes")
def _(fx, n):
    X, y = iris()
    write(fx, n, Pipeline([("clf", KNeighborsClassifier(n_neighbors=4, metric="manhattan"))]), X, y,
          "KNN classifier as 426 without its probability outputs: cityBlock distance, an even k (vote ties), missing cells",
          missing=0.03, strip_output="probability")


@case("499-nyoka-knn-weighted-wine")
def _(fx, n):
    X, y = wine()
    write(fx, n, Pipeline([("sc", StandardScaler()), ("clf", KNeighborsClassifier(n_neighbors=6, weights="distance"))]), X, y,
          "distance-weighted KNN classifier without its probability outputs", strip_output="probability")


if __name__ == "__main__":
    fx = sys.argv[1]
    for name in sys.argv[2:] or list(CASES):
        try:
            CASES[name](fx, name)
        except Exception as e:
            print(f"{name}: not made: {type(e).__name__}: {str(e)[:300]}", file=sys.stderr)
