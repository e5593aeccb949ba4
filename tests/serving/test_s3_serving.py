"""A server whose registry keeps its artifacts in S3 (moto): it loads a model from the
bucket once, then from its own disk, even with S3 gone."""

from __future__ import annotations

import socket

import numpy as np

from maas_nb.registry import Registry
from tests.serving.conftest import stop


def infer(server, rows: np.ndarray) -> list:
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
    with server.client() as c:
        response = c.post("/v2/models/iris/infer", json=body)
    assert response.status_code == 200, response.text
    return response.json()["outputs"][0]["data"]


def test_a_server_loads_from_s3_once_then_from_its_cache(
    home, tmp_path, s3_uri, start_server, classifier, iris, monkeypatch
):
    X, _ = iris
    monkeypatch.setenv("MAAS_ARTIFACTS_URI", s3_uri)
    # Registered from another machine: its own home, the server's database, the bucket.
    laptop = Registry(tmp_path / "laptop", registry_uri=f"sqlite:///{home}/registry.db")
    version = laptop.register(classifier, "iris", sample=X[:5])
    laptop.put_deployment("iris", "iris:1")
    cached = home / "cache" / "artifacts" / "sha256" / version.digest[7:9] / version.digest[9:]
    assert not cached.exists()

    server = start_server()
    assert [s["status"] for s in server.reconcile()] == ["ready"]
    assert infer(server, X[:3]) == classifier.predict(X[:3]).tolist()
    assert cached.is_file()  # fetched from the bucket, verified, kept
    stop(server)

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{dead}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    offline = start_server()
    assert [s["status"] for s in offline.reconcile()] == ["ready"]
    assert infer(offline, X[:3]) == classifier.predict(X[:3]).tolist()
