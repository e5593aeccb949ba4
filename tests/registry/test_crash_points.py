"""The crash-test hold points: off unless the process's environment names one, then a hold."""

import os
import threading

import pytest

from maas_nb.exceptions import ConfigurationError
from maas_nb.registry import crash_points
from tests.helpers import wait_for


def test_a_point_other_than_the_named_one_does_not_hold(monkeypatch, tmp_path):
    marker = tmp_path / "held"
    monkeypatch.setenv(crash_points.ENV, f"{crash_points.ARTIFACT_WRITTEN}:{marker}")
    crash_points.reached(crash_points.BEFORE_COMMIT)
    crash_points.reached(crash_points.ARTIFACT_RENAMED)
    assert not marker.exists()


def test_the_named_point_holds_until_its_marker_is_removed(monkeypatch, tmp_path):
    marker = tmp_path / "held"
    monkeypatch.setenv(crash_points.ENV, f"{crash_points.BEFORE_COMMIT}:{marker}")
    writer = threading.Thread(target=crash_points.reached, args=(crash_points.BEFORE_COMMIT,))
    writer.start()
    wait_for(marker.exists, timeout=30, what="the hold's marker")
    assert marker.read_text() == f"{os.getpid()} {crash_points.BEFORE_COMMIT}\n"
    assert writer.is_alive()
    marker.unlink()
    writer.join(timeout=30)
    assert not writer.is_alive()
    assert os.listdir(tmp_path) == []


def test_a_hold_nobody_ends_gives_up_with_a_clear_error(monkeypatch, tmp_path):
    marker = tmp_path / "held"
    monkeypatch.setenv(crash_points.ENV, f"{crash_points.ARTIFACT_RENAMED}:{marker}")
    monkeypatch.setattr(crash_points, "HOLD_LIMIT_S", 0.05)
    with pytest.raises(ConfigurationError) as info:
        crash_points.reached(crash_points.ARTIFACT_RENAMED)
    assert str(info.value) == (
        f"The registry write held at 'artifact-renamed' (MAAS_TEST_PAUSE_AT) for 0.05 s and was "
        f"neither killed nor released. Remove '{marker}' to release it, and unset "
        "MAAS_TEST_PAUSE_AT outside crash tests."
    )


@pytest.mark.parametrize(
    "setting", ["nowhere:/tmp/held", "artifact-written", "artifact-written:", ":/tmp/held"]
)
def test_a_malformed_setting_is_refused(monkeypatch, setting):
    monkeypatch.setenv(crash_points.ENV, setting)
    with pytest.raises(ConfigurationError) as info:
        crash_points.reached(crash_points.ARTIFACT_WRITTEN)
    assert str(info.value) == (
        "MAAS_TEST_PAUSE_AT must be '<point>:<marker file>' with a point among "
        "artifact-written, artifact-renamed, version-before-commit; "
        f"got {setting!r}. It is for crash tests only: unset it."
    )
