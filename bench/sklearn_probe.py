"""scikit-learn's CV-chosen linear probes on cnnfeat feature directories (bench section "accuracy").

usage: sklearn_probe.py <train-dir> <test-dir> [--seed 0] [--folds 5]

For LinearSVC and LogisticRegression(lbfgs, max_iter=1000) each: GridSearchCV over the scalings
none / StandardScaler / Normalizer (l2) x C = c / (mean squared norm of the scaled training rows),
c in {0.01, 0.1, 1, 10, 100}, 5-fold stratified CV (StratifiedGroupKFold with one group per image
when the training directory has mirrored rows, samples.csv column `view`), balanced accuracy, refit
on all training rows; prints one JSON object: per estimator the chosen setting, its CV score and
its test accuracy.
"""
import csv, json, sys, time, warnings
import numpy as np


def load(d):
    X = np.load(f"{d}/features.npy")
    with open(f"{d}/samples.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return X, np.array([r["label"] for r in rows]), np.array([r["path"] for r in rows]), "view" in (rows[0] if rows else {})


def main():
    try:
        import sklearn
        from sklearn.svm import LinearSVC
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import Normalizer, StandardScaler, FunctionTransformer
        from sklearn.pipeline import Pipeline
        from sklearn.model_selection import GridSearchCV, StratifiedKFold, StratifiedGroupKFold
    except ImportError as e:
        print(json.dumps({"skipped": f"scikit-learn not installed: {e}"}))
        return
    args = sys.argv[1:]
    train, test = args[0], args[1]
    seed = int(args[args.index("--seed") + 1]) if "--seed" in args else 0
    folds = int(args[args.index("--folds") + 1]) if "--folds" in args else 5
    X, y, paths, mirrored = load(train)
    Xt, yt, _, _ = load(test)
    groups = np.unique(paths, return_inverse=True)[1] if mirrored else None
    cv = StratifiedGroupKFold(folds, shuffle=True, random_state=seed) if mirrored else StratifiedKFold(folds, shuffle=True, random_state=seed)
    scalers = {"none": FunctionTransformer(), "standard": StandardScaler(), "l2": Normalizer()}
    estimators = {
        "LinearSVC": lambda: LinearSVC(),
        "LogisticRegression": lambda: LogisticRegression(max_iter=1000),
    }
    out = {"sklearn": sklearn.__version__, "trainRows": int(len(y)), "testRows": int(len(yt)), "grouped": bool(mirrored), "estimators": {}}
    for name, make in estimators.items():
        started = time.perf_counter()
        best = None
        for scale, scaler in scalers.items():
            Xs = scaler.fit(X).transform(X)
            unit = 1.0 / max(float(np.mean(np.sum(Xs.astype(np.float64) ** 2, axis=1))), 1e-12)
            Cs = [c * unit for c in (0.01, 0.1, 1, 10, 100)]
            search = GridSearchCV(Pipeline([("scale", scaler), ("clf", make())]), {"clf__C": Cs}, cv=cv, scoring="balanced_accuracy", n_jobs=2, refit=False)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                search.fit(X, y, groups=groups)
            i = int(np.argmax(search.cv_results_["mean_test_score"]))
            score = float(search.cv_results_["mean_test_score"][i])
            if best is None or score > best["cv"]:
                best = {"scale": scale, "c": (0.01, 0.1, 1, 10, 100)[i], "C": Cs[i], "cv": score}
        model = Pipeline([("scale", scalers[best["scale"]]), ("clf", make().set_params(C=best["C"]))])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X, y)
        best["accuracy"] = float((model.predict(Xt) == yt).mean())
        best["seconds"] = time.perf_counter() - started
        out["estimators"][name] = best
    print(json.dumps(out))


if __name__ == "__main__":
    main()
