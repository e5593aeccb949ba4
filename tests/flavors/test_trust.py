"""Trying to break the skops trust check: crafted artifacts refused at register and load.

Every artifact here is a real skops file with an edited schema.json (see `crafted`);
a payload, had it run, would create the sentinel file, and each test checks it did not.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pickle
import subprocess

import numpy as np
import pytest

import maas_nb
from maas_nb import flavors
from maas_nb.exceptions import UntrustedModelError
from tests.flavors import crafted

# Importing the fixtures is what makes them fixtures of this module.
from tests.flavors.crafted import base_bytes_fixture, put_version, sentinel_fixture  # noqa: F401

#: (id, maker of the schema edit given the sentinel path, refused names with what they
#: really are, "" when the name is honest).
CRAFTED = [
    (
        "sklearn-reexports-subprocess.check_output",
        lambda p: crafted.function("sklearn.utils._testing", "check_output"),
        {"sklearn.utils._testing.check_output": "subprocess.check_output"},
    ),
    (
        "sklearn-reexports-os.makedirs",
        lambda p: crafted.function("sklearn.datasets._base", "makedirs"),
        {"sklearn.datasets._base.makedirs": "os.makedirs"},
    ),
    (
        "sklearn-reexports-os.remove",
        lambda p: crafted.function("sklearn.datasets._california_housing", "remove"),
        {"sklearn.datasets._california_housing.remove": "posix.remove"},
    ),
    (
        "sklearn-reexports-importlib.import_module",
        lambda p: crafted.function("sklearn.utils.discovery", "import_module"),
        {"sklearn.utils.discovery.import_module": "importlib.import_module"},
    ),
    (
        "scipy-reexports-shutil.rmtree",
        lambda p: crafted.function("scipy._lib._tmpdirs", "rmtree"),
        {"scipy._lib._tmpdirs.rmtree": "shutil.rmtree"},
    ),
    (
        "scipy-reexports-importlib.import_module",
        lambda p: crafted.function("scipy._lib.deprecation", "import_module"),
        {"scipy._lib.deprecation.import_module": "importlib.import_module"},
    ),
    (
        "pandas-reexports-shutil.which",
        lambda p: crafted.function("pandas.io.clipboard", "_executable_exists"),
        {"pandas.io.clipboard._executable_exists": "shutil.which"},
    ),
    (
        "numpy-reexports-ctypes.c_long",
        lambda p: crafted.type_node("numpy.ctypeslib", "c_intp"),
        {"numpy.ctypeslib.c_intp": "ctypes.c_long"},
    ),
    (
        "numpy-module-attribute-pickle.loads",
        lambda p: crafted.method_of_module("numpy.lib._npyio_impl", "pickle", "loads"),
        {
            "numpy.lib._npyio_impl.pickle": "a module",
            "numpy.lib._npyio_impl.pickle.loads": "_pickle.loads",
        },
    ),
    (
        "numpy-module-attribute-os.system",
        lambda p: crafted.method_of_module("numpy.testing._private.utils", "os", "system"),
        {
            "numpy.testing._private.utils.os": "a module",
            "numpy.testing._private.utils.os.system": "posix.system",
        },
    ),
    (
        "pandas-module-attribute-pickle.loads",
        lambda p: crafted.method_of_module("pandas.io.pickle", "pickle", "loads"),
        {"pandas.io.pickle.pickle": "a module", "pandas.io.pickle.pickle.loads": "_pickle.loads"},
    ),
    ("builtins.eval", lambda p: crafted.function("builtins", "eval"), {"builtins.eval": ""}),
    ("builtins.exec", lambda p: crafted.function("builtins", "exec"), {"builtins.exec": ""}),
    ("os.system", lambda p: crafted.function("os", "system"), {"os.system": ""}),
    ("pickle.loads", lambda p: crafted.function("pickle", "loads"), {"pickle.loads": ""}),
    (
        "importlib.import_module",
        lambda p: crafted.function("importlib", "import_module"),
        {"importlib.import_module": ""},
    ),
    ("numpy.load", lambda p: crafted.function("numpy", "load"), {"numpy.load": ""}),
    (
        "constructor-called-at-load-os.system",
        lambda p: crafted.called_at_load(
            "ConstructorFromReduceNode", "os", "system", crafted.command(p)
        ),
        {"os.system": ""},
    ),
    (
        "reduce-constructor-builtins.exec",
        lambda p: crafted.reduce_constructor(
            "builtins", "exec", f"import os; os.system({crafted.command(p)!r})"
        ),
        {"builtins.exec": ""},
    ),
    (
        "reduce-constructor-sklearn-reexport",
        lambda p: crafted.reduce_constructor(
            "sklearn.utils._testing", "check_output", ["touch", p]
        ),
        {"sklearn.utils._testing.check_output": "subprocess.check_output"},
    ),
    (
        "dict-key-type-os.system",
        lambda p: crafted.dict_key_type("os", "system", crafted.command(p)),
        {"os.system": ""},
    ),
    (
        "ndarray-subclass-builtins.eval",
        lambda p: crafted.called_at_load("NdArrayNode", "builtins", "eval", "1"),
        {"builtins.eval": ""},
    ),
    (
        "method-of-an-allowed-class",
        lambda p: crafted.method_of_module(
            "sklearn.linear_model._logistic", "LogisticRegression", "__init_subclass__"
        ),
        {"sklearn.linear_model._logistic.LogisticRegression.__init_subclass__": ""},
    ),
    (
        "operator.attrgetter",
        lambda p: crafted.operator_func("attrgetter", "__globals__"),
        {"operator.attrgetter": ""},
    ),
    (
        "operator.methodcaller",
        lambda p: crafted.operator_func("methodcaller", "system", crafted.command(p)),
        {"operator.methodcaller": ""},
    ),
]


@pytest.mark.parametrize(("make", "refused"), [c[1:] for c in CRAFTED], ids=[c[0] for c in CRAFTED])
def test_crafted_artifact_is_refused_by_the_flavor(base_bytes, sentinel, make, refused):
    data = crafted.rewrite(base_bytes, make(sentinel))
    flavor = flavors.get("sklearn")
    assert set(refused) <= set(flavor.required_types(data))
    with pytest.raises(UntrustedModelError) as info:
        flavor.check_trusted(data, name="evil", trusted=())
    crafted.assert_refused(info.value, refused, uri="evil", reveal=False)
    with pytest.raises(UntrustedModelError) as info:
        flavor.load(data, uri="evil:1", trusted=(), allow_pickle=False)
    crafted.assert_refused(info.value, refused, uri="evil:1", reveal=False)
    assert not os.path.exists(sentinel)


@pytest.mark.parametrize(("make", "refused"), [c[1:] for c in CRAFTED], ids=[c[0] for c in CRAFTED])
def test_crafted_artifact_in_the_registry_is_refused_at_load(
    registry, base_bytes, sentinel, make, refused
):
    put_version(registry, "evil", crafted.rewrite(base_bytes, make(sentinel)))
    with pytest.raises(UntrustedModelError) as info:
        maas_nb.load("evil")
    crafted.assert_refused(info.value, refused, uri="evil:1", reveal=False)
    reexports = {name: really for name, really in refused.items() if really}
    if reexports:
        # Approving a re-exported name by its exact name still does not trust it.
        with pytest.raises(UntrustedModelError) as info:
            maas_nb.load("evil", trusted_types=list(refused))
        crafted.assert_refused(info.value, reexports, uri="evil:1")
    assert not os.path.exists(sentinel)


def _disguised_check_output(*args, **kwargs):
    return subprocess.check_output(*args, **kwargs)


_disguised_check_output.__module__ = "sklearn.utils._testing"
_disguised_check_output.__name__ = _disguised_check_output.__qualname__ = "check_output"


class _ReducesToSystem:
    def __reduce__(self):
        return (os.system, ("true",))

    def __call__(self, X):
        return X


IN_MEMORY = [
    ("subprocess.check_output", subprocess.check_output, "subprocess.check_output"),
    ("builtins.eval", eval, "builtins.eval"),
    ("os.system", os.system, "posix.system"),
    ("pickle.loads", pickle.loads, "_pickle.loads"),
    ("numpy.load", np.load, "numpy.load"),
    ("disguised-as-sklearn", _disguised_check_output, "sklearn.utils._testing.check_output"),
    ("reduce-trick", _ReducesToSystem(), "tests.flavors.test_trust._ReducesToSystem"),
    ("partial-of-eval", functools.partial(eval, "1"), "builtins.eval"),
]


@pytest.mark.parametrize(
    ("func", "refused"), [c[1:] for c in IN_MEMORY], ids=[c[0] for c in IN_MEMORY]
)
def test_hostile_function_is_refused_at_register(iris, func, refused):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    X, y = iris
    model = make_pipeline(FunctionTransformer(np.log1p), LogisticRegression(max_iter=1000))
    model.fit(X, y)
    model.steps[0][1].func = func  # fitted with a harmless function, then swapped
    with pytest.raises(UntrustedModelError) as info:
        maas_nb.register(model, "evil")
    crafted.assert_refused(info.value, {refused: ""}, uri="evil")
    assert maas_nb.list_models() == []


def test_the_issue_exploit_is_refused_even_when_its_name_is_approved(registry, base_bytes):
    """Issue 10 item 1: FunctionTransformer + sklearn.utils._testing.check_output."""
    data = crafted.rewrite(base_bytes, crafted.function("sklearn.utils._testing", "check_output"))
    put_version(registry, "evil", data)
    with pytest.raises(UntrustedModelError) as info:
        maas_nb.load("evil", trusted_types=["sklearn.utils._testing.check_output"])
    assert str(info.value) == (
        "Model 'evil:1' contains types that maas_nb does not trust: "
        "sklearn.utils._testing.check_output (which is really subprocess.check_output). "
        "Loading untrusted types can run arbitrary code. A name that resolves to something "
        "else than it says is never trusted, even when approved: the artifact was crafted or "
        "comes from an unsafe library."
    )


#: The CRAFTED payloads skops runs while loading (the others run at predict).
RUN_AT_LOAD = [
    "constructor-called-at-load-os.system",
    "reduce-constructor-builtins.exec",
    "reduce-constructor-sklearn-reexport",
    "dict-key-type-os.system",
]


@pytest.mark.parametrize("case", RUN_AT_LOAD)
def test_the_crafted_payloads_are_live_under_plain_skops(base_bytes, sentinel, case):
    """Control: each payload really runs when skops loads the file trusting everything,
    so the sentinel checks above prove the refusals, not a payload skops drops."""
    import skops.io as sio

    make = next(c[1] for c in CRAFTED if c[0] == case)
    data = crafted.rewrite(base_bytes, make(sentinel))
    with contextlib.suppress(Exception):  # what the payload returns need not make a model
        sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    assert os.path.exists(sentinel)
