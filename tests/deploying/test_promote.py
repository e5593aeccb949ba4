"""``maas_nb.promote`` and ``maas_nb.rollback`` (and their verbs): the alias and the split
moved in one registry write, under load with no failed request."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

import maas_nb
from maas_nb.cli import main
from maas_nb.exceptions import ConfigurationError
from tests.deploying.test_traffic import two_versions, versions_answering
from tests.helpers import wait_for

__all__ = ["two_versions"]  # the fixture, shared with the traffic tests

ROW = {"instances": [[5.1, 3.5, 1.4, 0.2]]}
CLIENTS, LOAD_S = 8, 20.0


def test_promote_under_load_fails_no_request_and_serves_the_candidate_after(two_versions):
    dep = maas_nb.deploy("iris@production")
    maas_nb.traffic("iris", {"production": 90, "candidate": 10})
    stop = threading.Event()
    # (sent at, status, version answering) per client
    seen: list[list[tuple[float, int, str]]] = [[] for _ in range(CLIENTS)]

    def load(out: list[tuple[float, int, str]]) -> None:
        with httpx.Client(base_url=dep.server, timeout=30, trust_env=False) as c:
            while not stop.is_set():
                sent = time.monotonic()
                try:
                    r = c.post("/v1/models/iris:predict", json=ROW)
                except httpx.HTTPError as exc:
                    out.append((sent, 0, type(exc).__name__))
                    continue
                out.append((sent, r.status_code, r.headers.get("x-maas-version", r.text)))

    threads = [threading.Thread(target=load, args=(out,)) for out in seen]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: all(len(o) >= 20 for o in seen), timeout=30, what="load on the split")
        time.sleep(max(0.0, started + LOAD_S / 2 - time.monotonic()))  # half the run before
        promoted = maas_nb.promote("iris", "candidate")
        switched = time.monotonic()
        time.sleep(max(0.0, started + LOAD_S - time.monotonic()))  # and the rest after
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    answers = [a for out in seen for a in out]
    failed = [a for a in answers if a[1] != 200]
    assert failed == [], failed[:5]
    before = {v for sent, _, v in answers if sent < switched}
    after = [v for sent, _, v in answers if sent >= switched]
    assert before == {"iris:1", "iris:2"}
    assert len(after) > 100 and set(after) == {"iris:2"}
    assert maas_nb.get("iris@production").version == 2
    config = maas_nb.registry().get_deployment("iris").config
    assert config["traffic"] == [{"target": "iris@production", "weight": 100}]
    assert (config["generation"], promoted.config["generation"]) == (3, 3)
    assert {k: config["promoted"][k] for k in ("alias", "from", "to")} == {
        "alias": "production",
        "from": 1,
        "to": 2,
    }
    print(f"{len(answers)} requests at c={CLIENTS} over {LOAD_S:g} s, 0 failed")


def test_rollback_undoes_a_promotion_then_a_split(two_versions, capsys):
    dep = maas_nb.deploy("iris@production")
    with pytest.raises(ConfigurationError) as info:
        maas_nb.rollback("iris")
    assert str(info.value) == (
        "Deployment 'iris' serves iris@production alone and its last change was no promotion: "
        "there is nothing to roll back. Split its traffic with: maas traffic iris "
        "production=90 candidate=10."
    )
    assert main(["promote", "iris", "candidate"]) == 0
    text = capsys.readouterr().out
    assert "  promoted    @production: version 1 -> 2\n" in text
    assert versions_answering(dep.server, 20) == {"iris:2": 20}
    assert main(["rollback", "iris"]) == 0
    assert maas_nb.get("iris@production").version == 1  # the alias back where it was
    config = maas_nb.registry().get_deployment("iris").config
    assert "promoted" not in config and config["generation"] == 3
    assert versions_answering(dep.server, 20) == {"iris:1": 20}
    # A split (not a promotion): all the traffic back to its primary, the alias stays.
    maas_nb.traffic("iris", {"production": 50, "candidate": 50}, shadow={"candidate": 5})
    maas_nb.rollback("iris")
    config = maas_nb.registry().get_deployment("iris").config
    assert config["traffic"] == [{"target": "iris@production", "weight": 100}]
    assert "shadow" not in config and config["generation"] == 5
    assert maas_nb.get("iris@production").version == 1
    assert versions_answering(dep.server, 20) == {"iris:1": 20}


def test_promoting_a_version_that_does_not_exist_changes_nothing(two_versions):
    maas_nb.deploy("iris@production")
    with pytest.raises(maas_nb.exceptions.VersionNotFoundError):
        maas_nb.promote("iris", "7")
    assert maas_nb.get("iris@production").version == 1
    assert "promoted" not in maas_nb.registry().get_deployment("iris").config
