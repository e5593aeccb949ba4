"""The ``ray`` deploy target on a real single-node Ray cluster with Ray Serve's proxy on
loopback: the replicas run this project's server app, so every protocol answers as on
the local target; an alias move under load fails no request; a failed load says why."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
import requests

import maas_nb
from maas_nb.deploying import ray_target, server_view
from maas_nb.exceptions import DeploymentFailedError

pytestmark = pytest.mark.usefixtures("ray_cluster")


@pytest.fixture(autouse=True)
def no_apps_left(ray_cluster):
    """Each test starts and ends with no maas application on the shared Serve instance."""
    yield
    from ray import serve

    for name in serve.status().applications:
        if name.startswith(ray_target.APP_PREFIX):
            serve.delete(name, _blocking=True)


def oip(url: str, name: str, rows: np.ndarray) -> list:
    body = {
        "inputs": [
            {
                "name": "input",
                "shape": list(rows.shape),
                "datatype": "FP64",
                "data": rows.ravel().tolist(),
            }
        ]
    }
    response = requests.post(f"{url}/v2/models/{name}/infer", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["outputs"][0]["data"]


def test_the_quickstart_loop_runs_on_ray_with_the_local_answers(
    ray_cluster, registry, classifier, iris
):
    X, _ = iris
    maas_nb.register(classifier, "iris", sample=X[:5], alias="production")
    dep = maas_nb.deploy("iris@production", name="iris-ray", target="ray")
    assert dep.server == f"{ray_cluster.serve_url}/iris-ray"
    assert dep.deploy_target == "ray"
    assert dep.status == "ready"
    assert registry.get_deployment("iris-ray").server == "ray.iris-ray"
    local = maas_nb.deploy("iris@production", name="iris-local")

    rows = X[:7]
    expected = classifier.predict(rows).tolist()
    assert dep.predict(rows).tolist() == expected
    assert oip(dep.server, "iris-ray", rows) == oip(local.server, "iris-local", rows)
    tf = requests.post(
        f"{dep.server}/v1/models/iris-ray:predict", json={"instances": rows.tolist()}, timeout=30
    )
    tf_local = requests.post(
        f"{local.server}/v1/models/iris-local:predict",
        json={"instances": rows.tolist()},
        timeout=30,
    )
    assert tf.status_code == 200, tf.text
    assert tf.json() == tf_local.json()
    inv = requests.post(
        f"{dep.server}/invocations", json={"instances": rows.tolist()}, timeout=30
    )
    inv_local = requests.post(
        f"{local.server}/invocations", json={"instances": rows.tolist()}, timeout=30
    )
    assert inv.status_code == 200, inv.text
    assert inv.json() == inv_local.json()

    import tritonclient.http as triton

    client = triton.InferenceServerClient(dep.server.removeprefix("http://"))
    tensor = triton.InferInput("input", list(rows.shape), "FP64")
    tensor.set_data_from_numpy(rows.astype(np.float64))
    answer = client.infer("iris-ray", [tensor])
    name = answer.get_response()["outputs"][0]["name"]
    assert answer.as_numpy(name).tolist() == expected

    # The local server serves only its own deployment, the replicas only theirs.
    assert [d["name"] for d in server_view()["deployments"]] == ["iris-local"]
    view = server_view(target="ray")
    assert [(d["name"], d["status"], d["replicas"]) for d in view["deployments"]] == [
        ("iris-ray", "ready", 1)
    ]
    listed = {d.name: d for d in maas_nb.deployments(target="ray")}
    assert listed["iris-ray"].server == dep.server
    assert listed["iris-ray"].predict(rows[:2]).tolist() == expected[:2]

    maas_nb.undeploy("iris-ray", target="ray")
    from ray import serve

    assert ray_target.app_name("iris-ray") not in serve.status().applications
    assert [r.name for r in registry.list_deployments()] == ["iris-local"]
    gone = requests.post(f"{dep.server}/invocations", json={"instances": rows.tolist()})
    assert gone.status_code == 404
