"""A version's trust record: the types it needs, who approved each one and how, and
where people see it (maas show, %maas show, the panel's version details)."""

from __future__ import annotations

import getpass
from datetime import datetime

import numpy as np
import pytest

import maas_nb
from maas_nb.cli import main
from maas_nb.exceptions import UntrustedModelError
from maas_nb.notebook.display import version_card
from tests.custom_models import ThresholdClassifier

THRESHOLD = "tests.custom_models.ThresholdClassifier"
DOUBLE = "tests.registry.test_trust_record.double"


def double(X):
    return np.asarray(X) * 2


@pytest.fixture
def pipe(iris):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    X, _ = iris
    return make_pipeline(FunctionTransformer(double), ThresholdClassifier()).fit(X)


def test_register_records_who_approved_each_type_and_how(monkeypatch, pipe, iris, capsys):
    X, _ = iris
    monkeypatch.setenv("MAAS_TRUSTED_TYPES", DOUBLE)
    v = maas_nb.register(pipe, "pipe", trusted_types=[THRESHOLD])
    assert v.trust["needs"] == [THRESHOLD, DOUBLE]
    approvals = {a["type"]: a for a in v.trust["approved"]}
    assert approvals[THRESHOLD]["via"] == "trusted_types"
    assert approvals[DOUBLE]["via"] == "MAAS_TRUSTED_TYPES"
    user = getpass.getuser()
    for a in approvals.values():
        assert a["by"] == user
        assert datetime.fromisoformat(a["at"]).tzinfo is not None
    assert maas_nb.get("pipe:1").trust == v.trust  # stored, not just returned

    # The registry's record is honoured at load, with nothing in the environment.
    monkeypatch.delenv("MAAS_TRUSTED_TYPES")
    np.testing.assert_array_equal(maas_nb.load("pipe").predict(X[:5]), pipe.predict(X[:5]))

    card = version_card(v)
    assert (
        f"  trust      {THRESHOLD} (approved by {user} via trusted_types); "
        f"{DOUBLE} (approved by {user} via MAAS_TRUSTED_TYPES)"
    ) in repr(card)
    at = approvals[DOUBLE]["at"]
    assert f"via MAAS_TRUSTED_TYPES at {at})" in version_card(v, verbose=2)._repr_html_()

    assert main(["show", "pipe:1"]) == 0
    assert _shown(capsys, "trust record") == (
        f"{THRESHOLD} (approved by {user} via trusted_types at {approvals[THRESHOLD]['at']}); "
        f"{DOUBLE} (approved by {user} via MAAS_TRUSTED_TYPES at {at})"
    )


def test_the_check_that_admits_an_artifact_says_what_it_needs(pipe, classifier):
    """Register audits an artifact once: the check returns the types the record lists."""
    from maas_nb import flavors

    sklearn = flavors.get("sklearn")
    data = sklearn.save(pipe)
    needs = sklearn.check_trusted(data, name="pipe", trusted=[THRESHOLD, DOUBLE])
    assert needs == sorted([DOUBLE, THRESHOLD]) == sklearn.required_types(data)
    assert maas_nb.register(pipe, "pipe", trusted_types=[THRESHOLD, DOUBLE]).trust["needs"] == needs
    assert sklearn.check_trusted(sklearn.save(classifier), name="iris", trusted=()) == []


def test_a_version_with_built_in_types_only(classifier, capsys):
    v = maas_nb.register(classifier, "iris", trusted_types=[THRESHOLD])
    assert v.trust == {"needs": [], "approved": []}  # nothing approved that was not needed
    assert "trust" not in repr(version_card(v))
    assert main(["show", "iris:1"]) == 0
    assert _shown(capsys, "trust record") == "built-in allow-list only"


def _shown(capsys, key):
    """The value of *key* in ``maas show``'s output."""
    for line in capsys.readouterr().out.splitlines():
        if line.strip().split("  ")[0] == key:
            return line.strip()[len(key) :].strip()
    raise AssertionError(f"maas show printed no {key!r} line")


def test_an_approval_is_only_for_the_version_it_was_given_to(pipe, iris):
    maas_nb.register(pipe, "pipe", trusted_types=[THRESHOLD, DOUBLE])
    registry = maas_nb.api.registry()
    v = registry.get("pipe:1")
    # Another version with the same artifact but no recorded approval is refused.
    registry.store.create_version("copy", {"flavor": "sklearn", "digest": v.digest, "size": v.size})
    with pytest.raises(UntrustedModelError) as info:
        maas_nb.load("copy")
    assert str(info.value).startswith(
        f"Model 'copy:1' contains types that maas_nb does not trust: {THRESHOLD}, {DOUBLE}. "
    )


def test_approving_a_reexported_name_at_register_is_refused(iris):
    import subprocess

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    def check_output(*args, **kwargs):
        return subprocess.check_output(*args, **kwargs)

    check_output.__module__ = "sklearn.utils._testing"
    check_output.__qualname__ = "check_output"
    X, y = iris
    model = make_pipeline(FunctionTransformer(np.log1p), LogisticRegression(max_iter=1000))
    model.fit(X, y).steps[0][1].func = check_output
    with pytest.raises(UntrustedModelError) as info:
        maas_nb.register(model, "evil", trusted_types=["sklearn.utils._testing.check_output"])
    assert str(info.value).startswith(
        "Model 'evil' contains types that maas_nb does not trust: "
        "sklearn.utils._testing.check_output (which is really subprocess.check_output). "
    )
    assert maas_nb.list_models() == []
