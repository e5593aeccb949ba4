"""The Deploy tab's Where choice and replica options (replicas are the ``ray`` target's only)."""

from __future__ import annotations


def test_replica_options_are_for_ray_only(make_panel):
    deploy = make_panel().deploy
    assert deploy.where.options == ("local", "ray") and deploy.where.value == "local"
    fields = (
        deploy.replicas,
        deploy.autoscale,
        deploy.min_replicas,
        deploy.max_replicas,
        deploy.target_ongoing,
    )
    assert all(f.disabled for f in fields)
    assert deploy._replica_options() == {}

    deploy.where.value = "ray"
    assert [f.disabled for f in fields] == [False, False, True, True, True]
    deploy.replicas.value = 3
    assert deploy._replica_options() == {"replicas": 3}

    deploy.autoscale.value = True  # min and max instead of a fixed count
    assert [f.disabled for f in fields] == [True, False, False, False, False]
    deploy.max_replicas.value = 4
    deploy.target_ongoing.value = 8
    assert deploy._replica_options() == {
        "min_replicas": 1,
        "max_replicas": 4,
        "target_ongoing_requests": 8.0,
    }

    deploy.where.value = "local"
    assert all(f.disabled for f in fields)


def test_where_starts_at_the_deploy_target_the_environment_names(make_panel, monkeypatch):
    monkeypatch.setenv("MAAS_DEPLOY_TARGET", "ray://head:10001")
    deploy = make_panel().deploy
    assert deploy.where.options == ("ray://head:10001", "local", "ray")
    assert deploy.where.value == "ray://head:10001"
    assert not deploy.replicas.disabled  # a Ray cluster: replicas apply
