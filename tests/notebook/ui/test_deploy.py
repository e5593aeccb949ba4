"""The Deploy tab: Deploy and Undeploy change the registry and the live server; failures say why."""

import contextlib
import html
import io
import json
import subprocess

import numpy as np

import maas_nb
from maas_nb.exceptions import ServerUnavailableError
from maas_nb.serving.server import read_server_file
from tests.notebook.ui.conftest import rows_of


def test_deploy_from_the_panel_serves_the_picked_alias_with_its_batching(
    versions, make_panel, classifier, iris, capsys
):
    X, _ = iris
    panel = make_panel()
    assert panel.deploy.target.options == ("iris@production", "iris:2", "iris:1")
    assert panel.deploy.name.value == "iris"
    panel.deploy.name.value = "iris-prod"
    panel.deploy.max_batch_size.value = 8
    panel.deploy.max_latency_ms.value = 2.5
    panel.deploy.deploy.click()
    assert "loading" in panel.deploy.status.value  # shown at once; the kernel is not blocked
    panel.deploy.wait(timeout=90)

    assert ">ready</span>" in panel.deploy.status.value
    record = maas_nb.registry().get_deployment("iris-prod")
    assert record.target == "iris@production"
    assert (record.config["max_batch_size"], record.config["max_latency_ms"]) == (8, 2.5)
    dep = next(d for d in maas_nb.deployments() if d.name == "iris-prod")
    assert dep.status == "ready"
    assert dep.predict(X[:3]).tolist() == classifier.predict(X[:3]).tolist()

    panel.tick()  # the watcher's reading: the server's own status
    assert "<td>iris-prod</td><td>iris@production</td><td>2</td><td>ready</td>" in (
        panel.deploy.deployments.value
    )
    endpoint = panel.deploy.endpoint.value
    assert f"<code class='maas-endpoint'>{dep.url}</code>" in endpoint
    assert "curl -s -X POST " + dep.url in endpoint
    assert "httpx.post(" in endpoint and "[[0, 0, 0, 0]]" not in endpoint
    # The Python snippet runs as pasted and prints the server's answer.
    printed = run_python_snippet(endpoint)
    assert printed.getvalue().strip() == str(classifier.predict(rows_of([0, 0, 0, 0])).tolist())
    # So does the curl snippet, in a shell.
    zeros = rows_of([0, 0, 0, 0])
    answer = run_curl_snippet(endpoint)
    assert (answer["model_name"], answer["model_version"]) == ("iris-prod", "2"), answer
    predictions, probabilities = answer["outputs"]
    assert predictions == {
        "name": "predictions",
        "datatype": "INT64",
        "shape": [1],
        "data": classifier.predict(zeros).tolist(),
    }
    np.testing.assert_allclose(probabilities["data"], classifier.predict_proba(zeros).ravel())
    assert panel.predict.deployment.value == "iris-prod"  # ready to predict
    assert capsys.readouterr().out == ""


def test_undeploy_from_the_panel(versions, make_panel):
    panel = make_panel()
    panel.deploy.deploy.click()
    panel.deploy.wait(timeout=90)
    panel.deploy.target.value = "iris:1"
    panel.deploy.name.value = "old"
    panel.deploy.max_queue_rows.value = 128
    panel.deploy.deploy.click()
    panel.deploy.wait(timeout=90)
    assert maas_nb.registry().get_deployment("old").config["max_queue_rows"] == 128
    assert "max_queue_rows" not in maas_nb.registry().get_deployment("iris").config
    assert panel.deploy.deployed.options == ("iris", "old")
    assert panel.deploy.deployed.value == "old"  # follows the deployment just made
    panel.deploy.undeploy.click()
    panel.deploy.wait(timeout=90)
    assert [d.name for d in maas_nb.registry().list_deployments()] == ["iris"]
    assert panel.deploy.status.value == "<b>old</b>: undeployed"
    assert panel.deploy.deployed.options == ("iris",)
    panel.deploy.undeploy.click()
    panel.deploy.wait(timeout=90)
    assert maas_nb.registry().list_deployments() == []
    assert panel.predict.deployment.options == ()
    assert panel.deploy.deployed.options == ()
    panel.tick()
    assert "Nothing deployed yet." in panel.deploy.deployments.value
    assert panel.deploy.endpoint.value == ""
    assert read_server_file() is not None  # the server stays up for other deployments


def test_deploying_a_version_that_fails_to_load_shows_the_servers_reason(
    versions, make_panel, registry, classifier, iris
):
    X, _ = iris
    panel = make_panel()
    panel.deploy.target.value = "iris:1"
    panel.deploy.name.value = "healthy"
    panel.deploy.deploy.click()
    panel.deploy.wait(timeout=90)
    broken = registry.register(classifier, "broken")
    path = registry.artifacts.path(broken.digest)
    path.write_bytes(path.read_bytes()[:-10] + b"corrupted!")
    panel.refresh()

    panel.deploy.name.value = ""  # follow the picked model's name again
    panel.deploy.target.value = "broken:1"
    assert panel.deploy.name.value == "broken"
    panel.deploy.deploy.click()
    panel.deploy.wait(timeout=90)

    status = panel.deploy.status.value
    assert ">failed</span>" in status
    assert "ArtifactCorruptedError" in status and "is corrupted: its sha256 is sha256:" in status
    assert panel.log.errors[-1].startswith(
        "Deploy failed: The server could not load 'broken:1' for deployment 'broken': "
        "ArtifactCorruptedError: "
    )
    panel.tick()
    live = panel.deploy.deployments.value
    by = maas_nb.registry().get_deployment("broken").created_by
    assert (
        f"<td>broken</td><td>broken:1</td><td>-</td><td>failed</td><td>local</td><td>-</td>"
        f"<td>{by}</td>"
        "<td>(any)</td>"  # deployed from the panel: for whichever server reads the registry
        "<td>ArtifactCorruptedError" in live
    )
    # The other deployment, and the stored artifacts, are untouched.
    healthy = next(d for d in maas_nb.deployments() if d.name == "healthy")
    assert healthy.predict(X[:2]).tolist() == classifier.predict(X[:2]).tolist()
    assert maas_nb.load("iris:1").predict(X[:2]).tolist() == classifier.predict(X[:2]).tolist()
    assert not panel.deploy.deploy.disabled


def test_deploy_errors_before_anything_starts(make_panel):
    panel = make_panel()
    panel.deploy.deploy.click()
    assert panel.log.errors == [
        "Deploy failed: Pick a model version or alias to deploy (register one first)."
    ]
    panel.deploy.undeploy.click()
    assert panel.log.errors[-1] == (
        "Undeploy failed: Nothing is deployed, so there is nothing to undeploy."
    )
    assert read_server_file() is None  # nothing was started
    assert not panel.deploy.deploy.disabled and not panel.deploy.undeploy.disabled


def test_undeploying_what_someone_else_removed_meanwhile(versions, make_panel, capsys):
    panel = make_panel()
    panel.deploy.deploy.click()
    panel.deploy.wait(timeout=90)
    maas_nb.undeploy("iris")  # from another cell, the CLI or another panel
    panel.deploy.undeploy.click()
    panel.deploy.wait(timeout=30)
    assert panel.log.errors == [
        "Undeploy failed: No deployment named 'iris'. List them with: maas deployments "
        "(in a notebook: %maas deployments)"
    ]
    assert not panel.deploy.deploy.disabled and not panel.deploy.undeploy.disabled
    assert capsys.readouterr() == ("", "")


def test_with_a_token_the_snippets_read_it_from_the_environment(
    versions, make_panel, classifier, monkeypatch
):
    token = "s3cret-token-value"
    monkeypatch.setenv("MAAS_TOKEN", token)
    panel = make_panel()
    panel.deploy.deploy.click()
    panel.deploy.wait(timeout=90)
    panel.tick()
    assert ">ready</span>" in panel.deploy.status.value
    assert "<td>ready</td>" in panel.deploy.deployments.value  # the watcher sends the token
    endpoint = panel.deploy.endpoint.value
    assert token not in endpoint and token not in panel.log.widget.value
    assert "Bearer $MAAS_TOKEN" in endpoint
    printed = run_python_snippet(endpoint)
    assert printed.getvalue().strip() == str(classifier.predict(rows_of([0, 0, 0, 0])).tolist())
    answer = run_curl_snippet(endpoint)  # the shell expands $MAAS_TOKEN from the environment
    outputs = {o["name"]: o["data"] for o in answer.get("outputs", [])}
    assert outputs.get("predictions") == classifier.predict(rows_of([0, 0, 0, 0])).tolist(), answer
    monkeypatch.delenv("MAAS_TOKEN")
    assert run_curl_snippet(endpoint) == {
        "error": "Missing or wrong bearer token: send 'Authorization: Bearer <token>'."
    }


def test_a_typed_name_and_pick_survive_refreshes_and_new_versions(versions, make_panel, classifier):
    panel = make_panel()
    assert panel.deploy.name.value == "iris"  # follows the picked model
    panel.deploy.target.value = "iris:1"
    panel.deploy.name.value = "canary"
    maas_nb.register(classifier, "iris")
    panel.refresh()
    panel.tab.selected_index = 0
    panel.tab.selected_index = 1
    assert panel.deploy.target.options == ("iris@production", "iris:3", "iris:2", "iris:1")
    assert (panel.deploy.target.value, panel.deploy.name.value) == ("iris:1", "canary")
    panel.deploy.target.value = "iris:2"
    assert panel.deploy.name.value == "canary"  # typed by the person: kept


def test_a_deploy_whose_server_cannot_be_read_afterwards_still_finishes(
    versions, make_panel, monkeypatch
):
    panel = make_panel()

    def unreadable(**_):
        raise ServerUnavailableError("The model server at http://127.0.0.1:1 did not answer.")

    monkeypatch.setattr("maas_nb.notebook.ui.panel.client.live_view", unreadable)
    panel.deploy.deploy.click()
    panel.deploy.wait(timeout=90)
    assert ">ready</span>" in panel.deploy.status.value
    assert panel.predict.deployment.value == "iris"
    assert panel.log.errors == [
        "Reading the server failed: The model server at http://127.0.0.1:1 did not answer."
    ]
    assert not panel.deploy.deploy.disabled and not panel.deploy.undeploy.disabled
    assert "did not answer" in panel.monitor.table.value


def test_the_model_defaults_to_the_newest_version_until_the_person_picks(make_panel, classifier):
    maas_nb.register(classifier, "apple", alias="production")
    maas_nb.register(classifier, "zebra")
    maas_nb.register(classifier, "zebra")  # the one just trained
    panel = make_panel()
    assert panel.deploy.target.options == ("apple@production", "apple:1", "zebra:2", "zebra:1")
    assert (panel.deploy.target.value, panel.deploy.name.value) == ("zebra:2", "zebra")
    maas_nb.set_alias("zebra:2", "production")
    panel.refresh()  # through its alias, so that the deployment follows the alias
    assert panel.deploy.target.value == "zebra@production"
    maas_nb.register(classifier, "apple")
    panel.refresh()
    assert (panel.deploy.target.value, panel.deploy.name.value) == ("apple:2", "apple")
    panel.deploy.target.value = "zebra:1"  # the person's pick stays put
    maas_nb.register(classifier, "apple")
    panel.refresh()
    assert panel.deploy.target.value == "zebra:1"


def test_deployed_follows_new_deployments_from_the_api_and_the_magics(versions, make_panel, ip):
    panel = make_panel()
    first = maas_nb.deploy("iris:1", name="first")
    panel.tick()  # the watcher's reading
    assert panel.deploy.deployed.value == "first"
    assert f"<code class='maas-endpoint'>{first.url}</code>" in panel.deploy.endpoint.value
    ip.run_line_magic("maas", "deploy iris@production --name second")
    panel.tick()
    assert panel.deploy.deployed.options == ("first", "second")
    assert panel.deploy.deployed.value == "second"
    assert "/v2/models/second/infer</code>" in panel.deploy.endpoint.value
    panel.deploy.deployed.value = "first"  # the person's pick stays while nothing changes
    panel.tick()
    assert panel.deploy.deployed.value == "first"
    assert "/v2/models/first/infer</code>" in panel.deploy.endpoint.value
    maas_nb.deploy("iris:1", name="second")  # made again, on another version
    panel.tick()
    assert panel.deploy.deployed.value == "second"


def test_the_python_snippet_of_a_64_feature_model_is_compact_and_runs(make_panel):
    from sklearn.datasets import load_digits
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_digits(return_X_y=True)
    model = DecisionTreeClassifier(random_state=0).fit(X, y)
    maas_nb.register(model, "digits", sample=X[:5])
    panel = make_panel()
    maas_nb.deploy("digits")
    panel.tick()
    panel.deploy.deployed.value = "digits"
    endpoint = panel.deploy.endpoint.value
    snippet = python_snippet_of(endpoint)
    assert '"shape": [1, 64]' in snippet
    assert 8 < len(snippet.splitlines()) < 25, snippet  # not one line per feature
    assert max(map(len, snippet.splitlines())) <= 88, snippet
    printed = run_python_snippet(endpoint)
    assert printed.getvalue().strip() == str(model.predict(np.zeros((1, 64))).tolist())


def run_python_snippet(endpoint_html):
    """Run the Python snippet shown in the Deploy tab, as pasted; return what it printed."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(python_snippet_of(endpoint_html), {})
    return printed


def python_snippet_of(endpoint_html):
    """The Python snippet shown in the Deploy tab, as a person would copy it."""
    snippet = endpoint_html.split("<div>Python:</div><pre")[1].split(">", 1)[1]
    return html.unescape(snippet.split("</pre>")[0])


def run_curl_snippet(endpoint_html):
    """Run the curl command shown in the Deploy tab, as pasted into a shell; its JSON answer."""
    snippet = endpoint_html.split("<div>curl:</div><pre")[1].split(">", 1)[1]
    command = html.unescape(snippet.split("</pre>")[0])
    assert command.startswith("curl "), command
    shell = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=60, check=False
    )
    assert shell.returncode == 0, (command, shell.stderr)
    return json.loads(shell.stdout)
