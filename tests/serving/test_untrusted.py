"""The server re-runs the trust audit: a crafted artifact written into the registry
fails to deploy with the reason, and its payload never runs."""

from __future__ import annotations

import os

from maas_nb import flavors
from tests.flavors import crafted
from tests.flavors.test_trust import put_version


def test_a_crafted_version_fails_to_deploy_and_runs_nothing(start_server, registry, iris, tmp_path):
    X, y = iris
    data = crafted.rewrite(
        flavors.get("sklearn").save(crafted.base_model(X, y)),
        crafted.function("sklearn.utils._testing", "check_output"),
    )
    put_version(registry, "evil", data)
    registry.put_deployment("evil", "evil:1", {})
    server = start_server()

    (state,) = server.reconcile()
    assert state["status"] == "failed"
    assert state["reason"] == (
        "UntrustedModelError: Model 'evil:1' contains types that maas_nb does not trust: "
        "sklearn.utils._testing.check_output (which is really subprocess.check_output). "
        "Loading untrusted types can run arbitrary code. A name that resolves to something "
        "else than it says is never trusted, even when approved: the artifact was crafted or "
        "comes from an unsafe library."
    )
    sentinel = tmp_path / "pwned"
    with server.client() as client:
        r = client.post("/v1/models/evil:predict", json={"instances": ["touch", str(sentinel)]})
        assert r.status_code == 503, r.text
        assert "Deployment 'evil' failed to load: UntrustedModelError" in r.text
        assert client.get("/v2/health/live").status_code == 200
    assert not os.path.exists(sentinel)


def test_the_server_refuses_it_even_with_the_name_approved(
    start_server, registry, iris, monkeypatch
):
    X, y = iris
    data = crafted.rewrite(
        flavors.get("sklearn").save(crafted.base_model(X, y)),
        crafted.function("sklearn.utils._testing", "check_output"),
    )
    put_version(registry, "evil", data)
    registry.put_deployment("evil", "evil:1", {})
    monkeypatch.setenv("MAAS_TRUSTED_TYPES", "sklearn.utils._testing.check_output")
    server = start_server()  # inherits the approval through its environment
    (state,) = server.reconcile()
    assert state["status"] == "failed"
    assert "check_output (which is really subprocess.check_output)" in state["reason"]
