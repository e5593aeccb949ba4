"""``%maas VERB --home DIR`` (and ``--registry-uri``/``--artifacts-uri``): the stores for
one call, on every verb, the notebook-only ones included; the configured home stays."""

import os

import pytest

from maas_nb.commands import COMMANDS
from maas_nb.notebook.parsing import Parser, split_expression
from maas_nb.notebook.verbs import VERBS
from maas_nb.registry import Registry
from tests.notebook.conftest import out


def test_home_for_one_call_leaves_the_configured_home_alone(ip, classifier, tmp_path, home):
    other = tmp_path / "other"
    Registry(other).register(classifier, "elsewhere")
    listed = out(ip, f"models --home {other}").splitlines()
    assert [line.split()[0] for line in listed[1:]] == ["elsewhere"]
    assert out(ip, "models").startswith("No models registered.")
    assert os.environ["MAAS_HOME"] == str(home)

    ip.user_ns["model"] = classifier
    out(ip, f"register model there --home {other}")  # a notebook-only verb, same option
    assert [m.name for m in Registry(other).list_models()] == ["elsewhere", "there"]
    assert Registry(home).list_models() == []
    uri = f"sqlite:///{other}/registry.db"
    listed = out(
        ip, f"versions there --registry-uri {uri} --artifacts-uri file://{other}/artifacts"
    )
    assert [line.split()[0] for line in listed.splitlines()[1:]] == ["1"]


@pytest.mark.parametrize("verb", [*COMMANDS, *VERBS])
def test_every_verb_declares_the_store_options(verb):
    parser = COMMANDS[verb].parser(Parser) if verb in COMMANDS else VERBS[verb].parser()
    for option in ("--home", "--registry-uri", "--artifacts-uri"):
        assert option in parser._option_string_actions, f"%maas {verb} has no {option}"


@pytest.mark.parametrize(
    ("line", "head", "expression"),
    [
        ("iris X[:3, :2]", ["iris"], "X[:3, :2]"),
        ("--home /tmp/x iris X[:3, :2]", ["--home", "/tmp/x", "iris"], "X[:3, :2]"),
        ("--home=/tmp/x iris ['a b', 'c']", ["--home=/tmp/x", "iris"], "['a b', 'c']"),
    ],
    ids=["plain", "option-with-value", "option-equals-value"],
)
def test_an_expression_verb_takes_options_with_values_before_the_name(line, head, expression):
    parser = COMMANDS["predict"].parser(Parser)
    assert split_expression(line, parser) == (head, expression)
