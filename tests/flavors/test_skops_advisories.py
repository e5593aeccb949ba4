"""The published skops advisories, and artifacts the audit does not know: node types and
protocols it has not seen fail closed; constructor nodes build only ordinary classes.

Every artifact here is a real skops file with an edited schema.json (see `crafted`);
a payload, had it run, would create the sentinel file, and each test checks it did not.
"""

from __future__ import annotations

import io
import os
import zipfile

import pytest

import maas_nb
from maas_nb import flavors
from maas_nb.exceptions import ModelLoadError, UntrustedModelError
from tests.flavors import crafted

# Importing the fixtures is what makes them fixtures of this module.
from tests.flavors.crafted import base_bytes_fixture, put_version, sentinel_fixture  # noqa: F401

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
        crafted.rewrite(
            base_bytes, crafted.operator_func(name, "system", crafted.command(sentinel))
        ),
    )
    with pytest.raises(UntrustedModelError) as info:
        maas_nb.load("evil")
    crafted.assert_refused(info.value, {f"operator.{name}": ""}, uri="evil:1")
    assert not os.path.exists(sentinel)


def test_cve_2025_54886_a_file_that_is_not_skops_is_never_unpickled(registry, sentinel):
    """CVE-2025-54886: a non-zip model fell back to joblib (pickle) and ran code."""
    put_version(registry, "evil", crafted.pickle_payload(crafted.command(sentinel)))
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
