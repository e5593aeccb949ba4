import os
import shutil
import subprocess

import pytest

from maas_nb.exceptions import InvalidNameError
from maas_nb.registry.uri import ModelRef, validate_alias, validate_name
from tests.helpers import ROOT


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("iris", ModelRef("iris")),
        ("iris:3", ModelRef("iris", version=3)),
        ("iris@production", ModelRef("iris", alias="production")),
        ("iris@latest", ModelRef("iris")),
        ("iris:latest", ModelRef("iris")),
        ("my-model_v2.1:12", ModelRef("my-model_v2.1", version=12)),
        ("7up", ModelRef("7up")),
    ],
)
def test_parse(uri, expected):
    assert ModelRef.parse(uri) == expected


@pytest.mark.parametrize("uri", ["iris", "iris:3", "iris@production"])
def test_str_round_trips(uri):
    assert str(ModelRef.parse(uri)) == uri


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("", "Model name cannot be empty; use letters, digits, '_', '.' and '-'"),
        (
            "-iris",
            "Invalid model name '-iris': use letters, digits, '_', '.' and '-', starting with a letter or digit.",
        ),
        ("ir is", "Invalid model name 'ir is'"),
        ("iris/../x", "Invalid model name 'iris/../x'"),
        (
            "iris:0",
            "Invalid version '0' in model URI 'iris:0': a version is a positive integer (or 'latest'), as in 'iris:3'.",
        ),
        ("iris:abc", "Invalid version 'abc' in model URI 'iris:abc'"),
        ("iris:-1", "Invalid version '-1'"),
        ("iris:2@prod", "Model URI 'iris:2@prod' names both a version and an alias"),
        ("iris@", "Alias cannot be empty"),
        ("iris@pro duction", "Invalid alias 'pro duction'"),
        ("x" * 129, "is 129 characters long; the limit is 128."),
        (
            3,
            "A model URI must be a string such as 'iris', 'iris:3' or 'iris@production', got int: 3.",
        ),
    ],
)
def test_malformed_uris_say_what_is_allowed(uri, message):
    with pytest.raises(InvalidNameError) as info:
        ModelRef.parse(uri)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("alias", "message"),
    [
        ("latest", "Alias 'latest' is reserved: it always resolves to the highest version."),
        ("3", "Alias '3' is a number, which reads like a version. Use a name such as 'v3'"),
        ("a" * 65, "is 65 characters long; the limit is 64."),
        ("prod!", "Invalid alias 'prod!'"),
    ],
)
def test_reserved_and_malformed_aliases(alias, message):
    with pytest.raises(InvalidNameError) as info:
        validate_alias(alias)
    assert message in str(info.value)


def test_name_of_max_length_is_accepted():
    assert validate_name("n" * 128) == "n" * 128


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (
            "m:²",
            "Invalid version '²' in model URI 'm:²': a version is a positive integer (or 'latest'), as in 'iris:3'.",
        ),
        ("m:٣", "Invalid version '٣' in model URI 'm:٣'"),  # an Arabic-Indic three
        ("m:00", "Invalid version '00' in model URI 'm:00'"),
        (
            "m:99999999999999999999999",
            "Version 99999999999999999999999 in model URI 'm:99999999999999999999999' is out of "
            "range: versions go up to 9223372036854775807. Check the number, or use 'NAME:latest'.",
        ),
        ("m:9223372036854775808", "is out of range: versions go up to 9223372036854775807."),
        ("m:" + "9" * 5000, "is out of range: versions go up to 9223372036854775807."),
    ],
)
def test_versions_outside_ascii_digits_or_64_bits_are_refused(uri, message):
    with pytest.raises(InvalidNameError) as info:
        ModelRef.parse(uri)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_largest_version_parses():
    assert ModelRef.parse("m:9223372036854775807").version == 2**63 - 1
    assert ModelRef.parse("m:007").version == 7


@pytest.mark.parametrize("uri", ["m:²", "m:99999999999999999999999"])
def test_cli_prints_one_line_for_a_bad_version(tmp_path, uri):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MAAS_HOME": str(tmp_path / "home")}
    maas = shutil.which("maas")
    assert maas, "the maas script is not installed"
    done = subprocess.run(
        [maas, "show", uri], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("maas: error: ")
    assert "in model URI" in lines[0]
