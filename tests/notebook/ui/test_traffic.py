"""The traffic slider under the Deploy tab: Apply splits the picked deployment on the real
server (off the kernel's thread); a split made elsewhere shows in its fields; failures say why."""

import collections

import httpx

import maas_nb

ROW = {
    "inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", "data": [5.1, 3.5, 1.4, 0.2]}]
}


def versions_answering(url, n, headers=None):
    seen = collections.Counter()
    with httpx.Client(trust_env=False, timeout=30) as http:
        for _ in range(n):
            r = http.post(f"{url}/v2/models/iris/infer", json=ROW, headers=headers)
            assert r.status_code == 200, r.text
            seen[r.headers["x-maas-version"]] += 1
    return seen


def test_apply_splits_the_deployment_between_primary_and_candidate(versions, make_panel):
    dep = maas_nb.deploy("iris@production")
    panel = make_panel()
    box = panel.deploy.traffic
    assert panel.deploy.deployed.value == "iris"
    assert box.candidate.options == ("iris:2", "iris:1")  # not the primary itself
    assert "<code class='maas-split'>production=100</code>" in box.current.value
    assert "generation 1" in box.current.value
    box.candidate.value = "iris:1"
    box.share.value = 30
    box.sticky.value = True
    box.apply.click()
    assert "applying" in box.status.value  # shown at once; the kernel is not blocked
    box.wait(timeout=90)

    assert ">serving</span> <code>production=70 1=30 (generation 2)</code>" in box.status.value
    record = maas_nb.registry().get_deployment("iris")
    assert record.config["traffic"] == [
        {"target": "iris@production", "weight": 70},
        {"target": "iris:1", "weight": 30},
    ]
    assert record.config["sticky"] == "X-Maas-Key"
    assert "shadow" not in record.config
    seen = versions_answering(dep.server, 400)
    assert set(seen) == {"iris:1", "iris:2"}
    assert 0.25 <= seen["iris:1"] / 400 <= 0.35, seen
    assert len(versions_answering(dep.server, 30, {"X-Maas-Key": "ada"})) == 1  # sticky
    assert "production=70 1=30" in box.current.value and "sticky on X-Maas-Key" in box.current.value
    assert panel.log.last == "iris serves production=70 1=30 (generation 2)"

    # Share 0 with a shadow: the candidate answers no client, only gets copies.
    box.share.value = 0
    box.sticky.value = False
    box.shadow.value = 50
    box.apply.click()
    box.wait(timeout=90)
    record = maas_nb.registry().get_deployment("iris")
    assert record.config["traffic"] == [{"target": "iris@production", "weight": 100}]
    assert record.config["shadow"]["target"] == "iris:1"
    assert record.config["shadow"]["percent"] == 50.0
    assert versions_answering(dep.server, 100) == {"iris:2": 100}
    assert "shadow:1=50%" in box.current.value


def test_a_split_made_elsewhere_shows_in_the_fields(versions, make_panel):
    maas_nb.deploy("iris@production")
    panel = make_panel()
    box = panel.deploy.traffic
    maas_nb.traffic("iris", {"production": 80, "1": 20}, shadow={"1": 5})
    panel.tick()
    assert (box.candidate.value, box.share.value, box.shadow.value) == ("iris:1", 20, 5.0)
    assert "production=80 1=20 shadow:1=5%" in box.current.value
    assert "generation 2" in box.current.value


def test_apply_failures_say_why(versions, make_panel, registry):
    panel = make_panel()
    box = panel.deploy.traffic
    box.apply.click()  # nothing deployed
    assert panel.log.errors[-1] == (
        "Apply split failed: Pick a deployment in Deployed first (deploy one if none)."
    )
    maas_nb.deploy("iris@production")
    panel.tick()
    box.candidate.value = "iris:1"
    registry.delete_version("iris:1")  # gone between the pick and Apply
    box.apply.click()
    box.wait(timeout=90)
    assert ">failed</span>" in box.status.value
    assert "has no version 1; its versions are: 2." in box.status.value
    assert panel.log.errors[-1] == (
        "Apply split failed: Model 'iris' has no version 1; its versions are: 2."
    )
    assert "traffic" not in maas_nb.registry().get_deployment("iris").config
    assert box.apply.disabled is False


def test_apply_keeps_a_guard_set_elsewhere_until_the_candidate_changes(versions, make_panel):
    maas_nb.deploy("iris@production")
    panel = make_panel()
    box = panel.deploy.traffic
    maas_nb.traffic("iris", {"production": 90, "1": 10}, guard={"max_error_rate": 0.05})
    guard = maas_nb.registry().get_deployment("iris").config["guard"]
    panel.tick()
    assert box.candidate.value == "iris:1"
    box.share.value = 20  # the same candidate, a larger share: the guard stays
    box.apply.click()
    box.wait(timeout=90)
    assert ">serving</span> <code>production=80 1=20 (generation 3)</code>" in box.status.value
    assert maas_nb.registry().get_deployment("iris").config["guard"] == guard
    box.candidate.value = "iris:2"  # another candidate: the guard goes, said so
    box.apply.click()
    box.wait(timeout=90)
    assert "(generation 4; its guard was removed: the candidate changed)</code>" in box.status.value
    assert "guard" not in maas_nb.registry().get_deployment("iris").config
