"""A missing real component skips on a laptop and fails in CI (tests/components.py)."""

from __future__ import annotations

import pytest

from tests.components import executable
from tests.helpers import ROOT

FOUND = "maas-no-such-program is missing: apt-get install maas-no-such-program."


@pytest.mark.parametrize(
    ("env", "outcome", "message"),
    [
        ({}, pytest.skip.Exception, "Skipped; MAAS_REQUIRE_COMPONENTS=1 makes this a failure."),
        (
            {"MAAS_REQUIRE_COMPONENTS": "1"},
            pytest.fail.Exception,
            "MAAS_REQUIRE_COMPONENTS=1 (or CI=true) makes this a failure, not a skip.",
        ),
        ({"CI": "true"}, pytest.fail.Exception, "makes this a failure, not a skip."),
        ({"CI": "true", "MAAS_REQUIRE_COMPONENTS": "0"}, pytest.skip.Exception, "Skipped;"),
    ],
)
def test_a_missing_component_skips_locally_and_fails_when_required(
    monkeypatch, env, outcome, message
):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("MAAS_REQUIRE_COMPONENTS", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    # Catch both outcomes: a skip escaping here would report this test itself as skipped.
    with pytest.raises((pytest.skip.Exception, pytest.fail.Exception)) as info:
        executable("maas-no-such-program", install="apt-get install maas-no-such-program")
    assert type(info.value) is outcome
    assert str(info.value.msg).startswith(FOUND)
    assert message in str(info.value.msg)


def test_a_present_component_is_found(monkeypatch):
    monkeypatch.setenv("MAAS_REQUIRE_COMPONENTS", "1")
    assert executable("sh", install="it is POSIX").endswith("/sh")


def test_no_test_skips_silently_on_a_missing_import():
    """importorskip turns a missing dev dependency into a green run; import it instead."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "tests").rglob("*.py")
        if "importorskip" in path.read_text() and path.name != "test_components.py"
    ]
    assert offenders == [], f"{offenders} call pytest.importorskip; import the module instead."
