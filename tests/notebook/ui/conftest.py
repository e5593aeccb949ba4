"""A control panel over a registry with two iris versions; panels close (thread stopped) after."""

import threading

import httpx
import numpy as np
import pytest

import maas_nb
from maas_nb.notebook.ui import Panel


@pytest.fixture
def versions(classifier, iris):
    X, _ = iris
    a = maas_nb.register(
        classifier,
        "iris",
        sample=X[:5],
        metrics={"accuracy": 0.9, "f1": 0.8},
        lineage={"notebook": "notebooks/train.ipynb"},
    )
    b = maas_nb.register(
        classifier, "iris", sample=X[:5], metrics={"accuracy": 0.95}, alias="production"
    )
    return a, b


@pytest.fixture
def make_panel():
    """Build panels; `live=False` ones are driven with .tick(). All are closed afterwards."""
    made = []

    def make(**kwargs):
        kwargs.setdefault("live", False)
        panel = Panel(**kwargs)
        made.append(panel)
        return panel

    yield make
    for panel in made:
        panel.deploy.wait(timeout=90)
        panel.close()


def fill(panel, values):
    for field, value in zip(panel.predict.fields, values, strict=True):
        field.value = str(value)


def rows_of(values):
    return np.asarray(values, dtype=float).reshape(1, -1)


class Load:
    """OIP requests (each with its own id) to a deployment on a thread until stopped, with
    the truth of every answered row posted as feedback in batches; ``answers`` keeps
    ``(id, version, prediction, truth)`` for each."""

    def __init__(self, url, name, X, y, *, feedback=True, batch=20):
        # A DataFrame (a model registered with one) is sent as one OIP input per column.
        self.columns = list(getattr(X, "columns", []))
        self.url, self.name, self.X, self.y = url, name, np.asarray(X), np.asarray(y)
        self.feedback, self.batch = feedback, batch
        self.answers = []
        self.failures = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=60)

    def _inputs(self, k):
        row = self.X[k].tolist()
        if self.columns:
            return [
                {"name": c, "shape": [1], "datatype": "FP64", "data": [v]}
                for c, v in zip(self.columns, row, strict=True)
            ]
        return [{"name": "input", "shape": [1, len(row)], "datatype": "FP64", "data": row}]

    def _run(self):
        try:
            self._send()
        except Exception as exc:  # the test sees it in failures, not as a silent stop
            self.failures.append(repr(exc))

    def _send(self):
        pending = {}
        with httpx.Client(trust_env=False, timeout=30) as http:
            i = 0
            while not self._stop.is_set():
                k = i % len(self.X)
                rid = f"load-{i}"
                body = {"id": rid, "inputs": self._inputs(k)}
                r = http.post(f"{self.url}/v2/models/{self.name}/infer", json=body)
                i += 1
                if r.status_code != 200:
                    self.failures.append(r.text)
                    continue
                version = r.headers["x-maas-version"]
                prediction = r.json()["outputs"][0]["data"][0]
                self.answers.append((rid, version, prediction, int(self.y[k])))
                pending[rid] = int(self.y[k])
                if self.feedback and len(pending) >= self.batch:
                    rows = [{"id": k, "truth": v} for k, v in pending.items()]
                    url = f"{self.url}/v2/models/{self.name}/feedback"
                    r = http.post(url, json={"feedback": rows})
                    if r.status_code != 200:
                        self.failures.append(r.text)
                    pending = {}
