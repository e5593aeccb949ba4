import pytest

from maas_nb.exceptions import InvalidNameError
from maas_nb.registry.uri import ModelRef, validate_alias, validate_name


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
