"""The replica options, checked once for every front end (`maas_nb.deploying.scaling`)."""

from __future__ import annotations

import pytest

from maas_nb.cli import main
from maas_nb.deploying import scaling
from maas_nb.exceptions import ConfigurationError


def test_nothing_asked_is_nothing_stored():
    assert scaling.plan("ray", True) == {}
    assert scaling.plan("local", False) == {}


def test_a_fixed_count_and_an_autoscaling_range():
    assert scaling.plan("ray", True, replicas=3) == {"replicas": 3}
    assert scaling.plan("ray", True, min_replicas=1, max_replicas=4) == {
        "autoscaling": {"min_replicas": 1, "max_replicas": 4}
    }
    assert scaling.plan("ray", True, max_replicas=2, target_ongoing_requests=3) == {
        "autoscaling": {"min_replicas": 1, "max_replicas": 2, "target_ongoing_requests": 3.0}
    }
    more = {"look_back_period_s": 2}
    assert scaling.plan("ray", True, min_replicas=2, more=more) == {
        "autoscaling": {"look_back_period_s": 2, "min_replicas": 2, "max_replicas": 2}
    }


def test_what_people_read_and_what_serve_gets():
    fixed, ranged = {"replicas": 2}, {"autoscaling": {"min_replicas": 1, "max_replicas": 3}}
    assert (scaling.wanted({}), scaling.wanted(fixed), scaling.wanted(ranged)) == ("1", "2", "1-3")
    assert scaling.serve_options(fixed) == {"num_replicas": 2}
    assert scaling.serve_options(ranged) == {
        "num_replicas": "auto",
        "autoscaling_config": {"min_replicas": 1, "max_replicas": 3},
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"replicas": 0}, "replicas is 0; give a number of Ray Serve replicas"),
        ({"replicas": True}, "replicas is True"),
        ({"min_replicas": 2.5}, "min_replicas is 2.5"),
        ({"min_replicas": 3, "max_replicas": 2}, "max_replicas (2) is below min_replicas (3)"),
        ({"replicas": 2, "max_replicas": 3}, "give one or the other"),
        ({"max_replicas": 2, "target_ongoing_requests": 0}, "target_ongoing_requests is 0"),
        ({"max_replicas": 2, "downscale_delay_s": -1}, "downscale_delay_s is -1"),
        ({"max_replicas": 2, "upscale_delay_s": float("nan")}, "upscale_delay_s is nan"),
    ],
)
def test_bad_values_say_what_to_give(options, message):
    with pytest.raises(ConfigurationError) as info:
        scaling.plan("ray", True, **options)
    assert message in str(info.value)


def test_targets_without_replicas_refuse_them():
    with pytest.raises(ConfigurationError, match="are for the ray target"):
        scaling.plan("local", False, min_replicas=1, max_replicas=2)


def test_the_cli_takes_the_autoscaling_options(registry, classifier, iris, capsys):
    registry.register(classifier, "iris", sample=iris[0][:5])
    code = main(["deploy", "iris", "--min-replicas", "3", "--max-replicas", "2", "--target", "ray"])
    assert code == 1
    assert "max_replicas (2) is below min_replicas (3)" in capsys.readouterr().err
    assert registry.list_deployments() == []
