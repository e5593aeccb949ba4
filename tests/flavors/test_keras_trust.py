"""Hostile .keras artifacts: each is refused at register and at load, by what it names."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from maas_nb.exceptions import ModelLoadError, UntrustedModelError

# Importing the fixtures is what makes them fixtures of this module.
from tests.flavors.keras_crafted import (  # noqa: F401
    CRAFTED,
    FLAVOR,
    OS_SYSTEM,
    craft,
    double_fixture,
    function,
    functional_fixture,
    layer,
    set_activation,
)


@pytest.fixture(params=sorted(CRAFTED))
def crafted(request, functional) -> tuple[bytes, str, str | None]:
    edit, expected, name = CRAFTED[request.param]
    return craft(functional[2], edit), expected, name


def test_crafted_artifact_is_refused_at_load(crafted):
    data, expected, _ = crafted
    with pytest.raises(UntrustedModelError) as info:
        FLAVOR.load(data, uri="crafted:1", trusted=[], allow_pickle=False)
    message = str(info.value)
    assert message.startswith(
        "Model 'crafted:1' contains Keras objects that maas_nb does not trust: "
    )
    assert expected in message
    assert "\n" not in message


def test_crafted_artifact_is_refused_at_register(crafted):
    data, expected, name = crafted
    with pytest.raises(UntrustedModelError) as info:
        FLAVOR.check_trusted(data, name="crafted", trusted=[])
    message = str(info.value)
    assert expected in message
    if name is None:
        assert (
            "Python bytecode, legacy layer entries and objects of unknown shape can never be "
            in message
        )
    else:
        assert f"approve them by exact name: pass trusted_types=[{name!r}]" in message
        assert "or add them (comma-separated) to the MAAS_TRUSTED_TYPES environment" in message


def test_crafted_artifact_lists_what_it_needs(crafted):
    data, _, name = crafted
    if name is None:
        with pytest.raises(UntrustedModelError) as info:
            FLAVOR.required_types(data)
        assert str(info.value).startswith("The artifact contains Keras objects that maas_nb")
        assert "can never be approved" in str(info.value)
    else:
        assert name in FLAVOR.required_types(data)


@pytest.mark.parametrize(
    ("activation", "expected"),
    [
        # Keras's fallback for files from Keras <= 3.6 matches a bare name to any
        # registered "package>name".
        (
            function("builtins", "double", "function"),
            "activation names the custom function 'maas_tests>double' (as 'double')",
        ),
        ("maas_tests>double", "activation names the registered custom object 'maas_tests>double'"),
    ],
)
def test_names_keras_would_resolve_to_a_registered_object_are_refused(
    functional, double, activation, expected
):
    data = craft(functional[2], set_activation("hidden", activation))
    with pytest.raises(UntrustedModelError) as info:
        FLAVOR.load(data, uri="crafted:1", trusted=[], allow_pickle=False)
    assert expected in str(info.value)
    assert "pass trusted_types=['maas_tests>double']" in str(info.value)
    assert FLAVOR.required_types(data) == ["maas_tests>double"]


def test_a_config_that_is_not_a_keras_object_is_refused(functional):
    data = craft(functional[2], lambda config: config.clear())
    with pytest.raises(UntrustedModelError, match="the model is not a Keras object"):
        FLAVOR.load(data, uri="crafted:1", trusted=[], allow_pickle=False)


def test_a_wildcard_approves_nothing(functional):
    data = craft(functional[2], set_activation("hidden", OS_SYSTEM))
    for pattern in ("os.*", "*", "os.syste?"):
        with pytest.raises(UntrustedModelError, match=r"names the function os\.system"):
            FLAVOR.load(data, uri="crafted:1", trusted=[pattern], allow_pickle=False)


def test_an_approved_name_that_is_not_registered_is_never_imported(functional):
    data = craft(functional[2], set_activation("hidden", OS_SYSTEM))
    with pytest.raises(ModelLoadError) as info:
        FLAVOR.load(data, uri="crafted:1", trusted=["os.system"], allow_pickle=False)
    assert str(info.value) == (
        "Model 'crafted:1' needs os.system, approved but not registered in this process: "
        "Keras builds only its own objects and registered custom objects. Import the module "
        "that defines them (decorated with @keras.saving.register_keras_serializable) before "
        "loading; maas_nb never imports code an artifact names."
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"PK\x05\x06" + b"\0" * 2, "The artifact is not a .keras zip file"),
        (b"\x89HDF\r\n\x1a\n legacy h5", "The artifact is not a .keras zip file"),
    ],
)
def test_a_file_that_is_not_a_keras_zip_is_refused(data, message):
    with pytest.raises(ModelLoadError, match=message):
        FLAVOR.load(data, uri="crafted:1", trusted=[], allow_pickle=False)
    with pytest.raises(ModelLoadError, match=message):
        FLAVOR.check_trusted(data, name="crafted", trusted=[])


def test_a_second_config_json_is_refused(functional):
    # zipfile and Keras read the last entry of a name: one could hide behind another.
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(functional[2])) as source, zipfile.ZipFile(out, "w") as zf:
        for info in source.infolist():
            zf.writestr(info, source.read(info))
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr("config.json", json.dumps({"class_name": "__lambda__", "config": {}}))
    with pytest.raises(
        ModelLoadError, match=r"The \.keras file holds 2 entries named 'config\.json'"
    ):
        FLAVOR.load(out.getvalue(), uri="crafted:1", trusted=[], allow_pickle=False)
