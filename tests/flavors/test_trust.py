"""Trying to break the skops trust check: crafted artifacts refused at register and load.

Every artifact here is a real skops file with an edited schema.json (see `crafted`);
a payload, had it run, would create the sentinel file, and each test checks it did not.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import pickle
import subprocess
import zipfile

import numpy as np
import pytest

import maas_nb
from maas_nb import flavors
from maas_nb.config import TRUSTED_TYPES_ENV
from maas_nb.exceptions import ModelLoadError, UntrustedModelError
from tests.flavors import crafted


@pytest.fixture(scope="module")
def base_bytes(iris):
    X, y = iris
    return flavors.get("sklearn").save(crafted.base_model(X, y))


@pytest.fixture
def sentinel(tmp_path):
    return str(tmp_path / "pwned")


def put_version(registry, name, data):
    """Write *data* into the artifact store and a version row, as an attacker with
    write access to the registry home could: nothing goes through register()."""
    digest = registry.artifacts.put(data)
    fields = {"flavor": "sklearn", "digest": digest, "size": len(data)}
    return registry.store.create_version(name, fields)


def _cmd(path):
    return f"touch {path}"


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
        lambda p: crafted.called_at_load("ConstructorFromReduceNode", "os", "system", _cmd(p)),
        {"os.system": ""},
    ),
    (
        "reduce-constructor-builtins.exec",
        lambda p: crafted.reduce_constructor(
            "builtins", "exec", f"import os; os.system({_cmd(p)!r})"
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
        lambda p: crafted.dict_key_type("os", "system", _cmd(p)),
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
        lambda p: crafted.operator_func("methodcaller", "system", _cmd(p)),
        {"operator.methodcaller": ""},
    ),
]


def _assert_refused(error, refused, *, uri, reveal=True):
    """The message names each refused type and, with *reveal*, what re-exports really are.

    Without an approval nothing the artifact names is imported, so what a re-export
    really is shows only when its module happens to be imported already.
    """
    text = str(error)
    assert text.startswith(f"Model {uri!r} contains types that maas_nb does not trust: ")
    for name, really in refused.items():
        if not really or not reveal:
            assert name in text
        elif really == "a module":
            assert f"{name} (which is really a module, not a class or function)" in text
        else:
            assert f"{name} (which is really {really})" in text
    # The advice is per exact name: the old advice ("wildcards allowed") caused the RCE.
    assert "wildcard" not in text
    honest = [n for n in refused if f"{n} (which is really" not in text]
    if honest:
        assert text.endswith("(exact names, comma-separated).")
        assert f"{TRUSTED_TYPES_ENV}=" in text
    if reveal and any(refused.values()):
        assert "A name that resolves to something else than it says is never trusted" in text


@pytest.mark.parametrize(("make", "refused"), [c[1:] for c in CRAFTED], ids=[c[0] for c in CRAFTED])
def test_crafted_artifact_is_refused_by_the_flavor(base_bytes, sentinel, make, refused):
    data = crafted.rewrite(base_bytes, make(sentinel))
    flavor = flavors.get("sklearn")
    assert set(refused) <= set(flavor.required_types(data))
    with pytest.raises(UntrustedModelError) as info:
        flavor.check_trusted(data, name="evil", trusted=())
    _assert_refused(info.value, refused, uri="evil", reveal=False)
    with pytest.raises(UntrustedModelError) as info:
        flavor.load(data, uri="evil:1", trusted=(), allow_pickle=False)
    _assert_refused(info.value, refused, uri="evil:1", reveal=False)
    assert not os.path.exists(sentinel)


@pytest.mark.parametrize(("make", "refused"), [c[1:] for c in CRAFTED], ids=[c[0] for c in CRAFTED])
def test_crafted_artifact_in_the_registry_is_refused_at_load(
    registry, base_bytes, sentinel, make, refused
):
    put_version(registry, "evil", crafted.rewrite(base_bytes, make(sentinel)))
    with pytest.raises(UntrustedModelError) as info:
        maas_nb.load("evil")
    _assert_refused(info.value, refused, uri="evil:1", reveal=False)
    reexports = {name: really for name, really in refused.items() if really}
    if reexports:
        # Approving a re-exported name by its exact name still does not trust it.
        with pytest.raises(UntrustedModelError) as info:
            maas_nb.load("evil", trusted_types=list(refused))
        _assert_refused(info.value, reexports, uri="evil:1")
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
    _assert_refused(info.value, {refused: ""}, uri="evil")
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


# -- the published skops advisories --------------------------------------------------


def test_cve_2024_37065_an_artifact_never_approves_its_own_types(registry, base_bytes, sentinel):
    """CVE-2024-37065: a model ran code when what skops reported was trusted wholesale.

    maas_nb never trusts the list an artifact yields (get_untrusted_types); a version's
    approvals come only from the registry's record, which no artifact writes.
    """

    def self_approving(schema):
        crafted.reduce_constructor("builtins", "exec", f"import os; os.system('touch {sentinel}')")(
            schema
        )
        schema["trusted"] = ["builtins.exec"]
        schema["trust"] = {"approved": [{"type": "builtins.exec"}]}

    put_version(registry, "evil", crafted.rewrite(base_bytes, self_approving))
    assert registry.get("evil").trust == {}
    with pytest.raises(UntrustedModelError, match=r"does not trust: builtins\.exec\. Loading"):
        maas_nb.load("evil")
    assert not os.path.exists(sentinel)


@pytest.mark.parametrize("name", ["call", "methodcaller", "attrgetter", "itemgetter"])
def test_cve_2025_54412_operator_func_node_is_refused(registry, base_bytes, sentinel, name):
    """CVE-2025-54412: an OperatorFuncNode hid a call to an arbitrary function."""
    put_version(
        registry,
        "evil",
        crafted.rewrite(base_bytes, crafted.operator_func(name, "system", _cmd(sentinel))),
    )
    with pytest.raises(UntrustedModelError) as info:
        maas_nb.load("evil")
    _assert_refused(info.value, {f"operator.{name}": ""}, uri="evil:1")
    assert not os.path.exists(sentinel)


def test_cve_2025_54886_a_file_that_is_not_skops_is_never_unpickled(registry, sentinel):
    """CVE-2025-54886: a non-zip model fell back to joblib (pickle) and ran code."""
    put_version(registry, "evil", crafted.pickle_payload(_cmd(sentinel)))
    with pytest.raises(ModelLoadError) as info:
        maas_nb.load("evil")
    assert str(info.value).startswith(
        "The artifact is not a readable skops file (BadZipFile: File is not a zip file); "
        "maas_nb loads scikit-learn models only from skops files, never with pickle or joblib."
    )
    assert not os.path.exists(sentinel)


# -- node types and protocols the audit does not know fail closed --------------------


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (crafted.loader("EvilNode"), "uses the skops node type 'EvilNode' (protocol 2)"),
        (crafted.loader("QuantileForestNode"), "skops node type 'QuantileForestNode'"),
        (crafted.protocol(0), "uses the skops node type 'FunctionNode' (protocol 0)"),
        (crafted.protocol(True), "declares skops protocol True; this skops reads protocols"),
        (crafted.protocol(99), "declares skops protocol 99"),
    ],
    ids=["unknown", "quantile-forest", "old-function-format", "bool-protocol", "future"],
)
def test_unknown_node_types_and_protocols_fail_closed(registry, base_bytes, edit, message):
    data = crafted.rewrite(base_bytes, edit)
    with pytest.raises(UntrustedModelError, match=message.replace("(", r"\(").replace(")", r"\)")):
        flavors.get("sklearn").required_types(data)
    put_version(registry, "evil", data)
    with pytest.raises(UntrustedModelError, match=r"^Model 'evil:1' (uses|declares)"):
        maas_nb.load("evil", trusted_types=["numpy.log1p"])


def test_an_approved_type_that_cannot_be_imported_says_so(registry, base_bytes):
    data = crafted.rewrite(base_bytes, crafted.function("no_such_package.tools", "helper"))
    put_version(registry, "gone", data)
    with pytest.raises(
        UntrustedModelError, match=r"does not trust: no_such_package\.tools\.helper"
    ):
        maas_nb.load("gone")
    with pytest.raises(ModelLoadError) as info:
        maas_nb.load("gone", trusted_types=["no_such_package.tools.helper"])
    assert str(info.value) == (
        "Model 'gone:1' needs no_such_package.tools.helper, which was approved, but it cannot "
        "be imported here (ModuleNotFoundError: No module named 'no_such_package'). Install "
        "the package that defines it."
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


def _ndarray_from_bytes(schema):
    """numpy.ndarray(shape, "O", buffer) via a ConstructorFromReduceNode: an object array
    whose elements are pointers read from the artifact."""
    raw = {"__class__": "bytes", "__module__": "builtins", "__loader__": "BytesNode"}
    args = crafted.tuple_node([2], "O")
    args["content"].append({**raw, "file": "evil.bin"})
    crafted.add_attribute(
        schema,
        "evil_",
        {
            "__class__": "ndarray",
            "__module__": "numpy",
            "__loader__": "ConstructorFromReduceNode",
            "content": args,
        },
    )


@pytest.mark.parametrize(
    ("edit", "refused"),
    [
        (_ndarray_from_bytes, "numpy.ndarray from stored arguments, but numpy.ndarray is an array"),
        (
            crafted.reduce_constructor("numpy", "ndarray", [2], "O"),
            "numpy.ndarray from stored arguments, but numpy.ndarray is an array",
        ),
        (
            crafted.called_at_load("ConstructorFromReduceNode", "functools", "partial", "x"),
            "functools.partial from stored arguments, but functools.partial is an array or partial",
        ),
        (
            crafted.called_at_load("ObjectNode", "numpy", "log1p"),
            "numpy.log1p from stored arguments, but numpy.log1p is a function, not a class",
        ),
        (
            crafted.called_at_load("ConstructorFromReduceNode", "scipy.sparse._csr", "csr_matrix"),
            "scipy.sparse._csr.csr_matrix from stored arguments, but scipy.sparse._csr",
        ),
    ],
    ids=[
        "ndarray-from-raw-bytes",
        "ndarray-from-a-loss-node",
        "partial-from-reduce",
        "object-node-function",
        "sparse-from-reduce",
    ],
)
def test_constructor_nodes_build_only_ordinary_classes(registry, base_bytes, edit, refused):
    buffer = io.BytesIO(crafted.rewrite(base_bytes, edit))
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("evil.bin", b"\x41" * 16)  # 0x4141414141414141, twice
    put_version(registry, "evil", buffer.getvalue())
    with pytest.raises(UntrustedModelError) as info:
        maas_nb.load("evil")
    assert str(info.value).startswith(f"Model 'evil:1' makes skops construct {refused}")
    assert str(info.value).endswith("Register the model again with maas_nb.")
