"""The built-in allow-list: scikit-learn's own models load with no opt-in, and nothing
that resolves to code outside scikit-learn, numpy and scipy is trusted."""

from __future__ import annotations

import collections
import functools
import os
import subprocess
import sys

import numpy as np
import pytest

import maas_nb
from maas_nb import flavors
from maas_nb.flavors.allowlist import builtin_allowlist, canonical_name
from maas_nb.flavors.skops_audit import Ref
from tests.flavors import crafted
from tests.helpers import ROOT

LIBRARIES = ("sklearn", "numpy", "scipy")
#: The builtin and stdlib types the allow-list names on purpose: plain data containers.
CONTAINERS = {
    dict,
    list,
    tuple,
    set,
    str,
    int,
    float,
    bool,
    complex,
    bytes,
    bytearray,
    slice,
    collections.OrderedDict,
    collections.defaultdict,
    functools.partial,
}


def test_nothing_defined_outside_the_libraries_is_trusted():
    """Walk every attribute of every sklearn/numpy/scipy module loaded by the allow-list
    (and the stdlib modules it names) as skops would resolve it."""
    builtin_allowlist()
    touched = {name.rpartition(".")[0] for name in builtin_allowlist()}
    modules = [
        m
        for m in sorted(sys.modules)
        if m.partition(".")[0] in LIBRARIES or m in touched or m in ("os", "subprocess")
    ]
    assert len(modules) > 300  # the walk really covers the libraries
    trusted_here = 0
    for module in modules:
        for attr, obj in list(vars(sys.modules[module]).items()):
            if not Ref(module, attr).builtin():
                continue
            trusted_here += 1
            root = (canonical_name(obj) or "").partition(".")[0]
            assert root in LIBRARIES or obj in CONTAINERS, (
                f"{module}.{attr} is trusted but is {canonical_name(obj) or type(obj)}"
            )
            assert canonical_name(obj) == f"{module}.{attr}", f"{module}.{attr} is a re-export"
    assert trusted_here >= len(builtin_allowlist())


@pytest.mark.parametrize(
    "name",
    [
        "builtins.eval",
        "builtins.exec",
        "builtins.getattr",
        "builtins.open",
        "builtins.__import__",
        "posix.system",
        "subprocess.check_output",
        "sklearn.utils._testing.check_output",
        "numpy.load",
        "numpy.save",
        "numpy.fromfile",
        "numpy.lib._npyio_impl.load",
        "scipy.io.loadmat",
        "sklearn.utils.discovery.all_estimators",
        "sklearn.metrics._dist_metrics.PyFuncDistance64",
    ],
)
def test_dangerous_names_are_not_in_the_allow_list(name):
    assert name not in builtin_allowlist()


def _models(iris):
    import pandas as pd
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import (
        ExtraTreesRegressor,
        GradientBoostingClassifier,
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
        RandomForestClassifier,
    )
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
    from sklearn.svm import SVC

    X, y = iris
    frame = pd.DataFrame({"petal_length": X[:, 2], "colour": np.where(y == 0, "red", "blue")})
    cats = np.c_[y % 2, X]
    return {
        "forest": (RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y), X),
        "extra-trees": (ExtraTreesRegressor(n_estimators=2, random_state=0).fit(X, y), X),
        "gbm": (GradientBoostingClassifier(n_estimators=3).fit(X, y), X),
        "hgb": (HistGradientBoostingClassifier(max_iter=3).fit(X, y), X),
        "hgb-regressor": (HistGradientBoostingRegressor(max_iter=3).fit(X, X[:, 0]), X),
        "hgb-categorical": (
            HistGradientBoostingClassifier(max_iter=3, categorical_features=[0]).fit(cats, y),
            cats,
        ),
        "sgd": (SGDClassifier(random_state=0).fit(X, y), X),
        "knn": (KNeighborsClassifier().fit(X, y), X),
        "mlp": (MLPClassifier(max_iter=5, random_state=0).fit(X, y), X),
        "svc": (SVC().fit(X, y), X),
        "scaled": (make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y), X),
        "log1p": (crafted.base_model(X, y), X),
        "frame": (
            make_pipeline(
                make_column_transformer((OneHotEncoder(), ["colour"]), remainder="passthrough"),
                LogisticRegression(max_iter=1000),
            ).fit(frame, y),
            frame,
        ),
        "expm1": (make_pipeline(FunctionTransformer(np.expm1), LogisticRegression()).fit(X, y), X),
    }


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # tiny fits
def test_scikit_learn_models_register_and_load_with_no_opt_in(iris, text_pipeline):
    models = _models(iris)
    models["text"] = (text_pipeline, ["a wonderful film", "awful"])
    for name, (model, X) in models.items():
        v = maas_nb.register(model, name)
        assert v.trust == {"needs": [], "approved": []}, name
        loaded = maas_nb.load(name)
        assert type(loaded) is type(model)
        np.testing.assert_array_equal(loaded.predict(X[:5]), model.predict(X[:5]), err_msg=name)


def test_crafted_exploit_is_live_without_the_audit(iris, tmp_path):
    """The issue's artifact really runs a command when skops loads it on its own; the
    trust tests refuse exactly this file."""
    import skops.io as sio

    X, y = iris
    data = crafted.rewrite(
        flavors.get("sklearn").save(crafted.base_model(X, y)),
        crafted.function("sklearn.utils._testing", "check_output"),
    )
    model = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    sentinel = tmp_path / "pwned"
    with pytest.raises(ValueError):  # the command has run; its bytes are no features
        model.predict(["touch", str(sentinel)])
    assert os.path.exists(sentinel)


def test_the_allow_list_is_built_once_when_many_threads_ask_at_first():
    """The server loads several models at once; the first build imports scikit-learn's
    modules, and concurrent first imports raced inside importlib (a KeyError naming
    'sklearn.externals.array_api_compat.torch' failed a deployment)."""
    code = (
        "import threading\n"
        "from maas_nb.flavors.allowlist import builtin_allowlist\n"
        "barrier, got, errors = threading.Barrier(8), [], []\n"
        "def build():\n"
        "    barrier.wait()\n"
        "    try:\n"
        "        got.append(builtin_allowlist())\n"
        "    except Exception as exc:\n"
        "        errors.append(repr(exc))\n"
        "threads = [threading.Thread(target=build) for _ in range(8)]\n"
        "[t.start() for t in threads]\n"
        "[t.join() for t in threads]\n"
        "assert not errors, errors\n"
        "assert len(got) == 8 and all(g is got[0] for g in got)\n"
    )
    for _ in range(3):
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT
        )
        assert done.returncode == 0, done.stderr
