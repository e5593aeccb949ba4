"""Named servers in the Deploy and Monitor tabs: each deployment shows the server it names,
and one another server serves is marked as served there, not as not running here."""

import maas_nb


def test_a_deployment_for_another_server_is_shown_as_served_there(
    versions, make_panel, registry, monkeypatch
):
    monkeypatch.setenv("MAAS_SERVER_NAME", "mine")
    panel = make_panel()
    panel.deploy.deploy.click()  # on this home's server, "mine"; for any server
    panel.deploy.wait(timeout=90)
    registry.put_deployment("theirs", "iris:1", server="team-b")
    registry.put_deployment("ours", "iris:1", server="mine")
    assert maas_nb.registry().get_deployment("iris").server is None

    panel.tick()
    shown = panel.deploy.deployments.value
    assert "<th>server</th>" in shown
    assert "<td>iris</td><td>iris@production</td><td>2</td><td>ready</td>" in shown
    assert "<td>(any)</td>" in shown.split("<td>iris</td>")[1].split("</tr>")[0]
    assert "<td>mine</td>" in shown.split("<td>ours</td>")[1].split("</tr>")[0]
    assert (
        "<td>theirs</td><td>iris:1</td><td>-</td><td>served elsewhere</td>" in shown
        and "<td>team-b</td><td>served by the server &#x27;team-b&#x27;, not &#x27;mine&#x27;"
        in shown
    )
    assert "not running" not in shown.split("<td>theirs</td>")[1].split("</tr>")[0]

    panel.tick()  # a second reading: the monitor has figures
    monitor = panel.monitor.table.value
    assert "<th>server</th>" in monitor
    assert "<td>theirs</td><td>served elsewhere</td>" in monitor
    assert monitor.split("<td>theirs</td>")[1].split("</tr>")[0].endswith("<td>team-b</td>")
    assert monitor.split("<td>iris</td>")[1].split("</tr>")[0].endswith("<td>(any)</td>")
