"""``maas_nb.feedback`` / ``maas feedback`` / ``%maas feedback`` and ``maas_nb.experiment``
/ ``maas experiment`` / ``%maas experiment`` against the home's server."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import maas_nb
from maas_nb.cli import main
from maas_nb.deploying.experiments import Experiment, feedback_items
from maas_nb.exceptions import ConfigurationError, PredictionError
from tests.notebook.conftest import TestingShell as Shell


@pytest.fixture
def split(iris):
    """iris:1 and iris:2 at 50/50 on the home's server; the rows and their truth."""
    X, y = iris
    maas_nb.register(
        LogisticRegression(max_iter=1000).fit(X, y), "iris", sample=X[:5], alias="production"
    )
    noisy = np.where(np.arange(len(y)) % 3 == 0, 0, y)
    maas_nb.register(LogisticRegression(max_iter=1000).fit(X, noisy), "iris", alias="candidate")
    maas_nb.deploy("iris@production")
    dep = maas_nb.traffic("iris", {"production": 50, "candidate": 50})
    return dep, X, y


def ask(dep, X, rows) -> dict[str, int]:
    """Request id -> row index, one OIP request per row."""
    ids = {}
    with httpx.Client(trust_env=False, timeout=30) as client:
        for k in rows:
            body = {
                "inputs": [
                    {"name": "input", "shape": [1, 4], "datatype": "FP64", "data": list(X[k])}
                ]
            }
            r = client.post(dep.url, json=body)
            assert r.status_code == 200, r.text
            ids[r.headers["x-maas-request-id"]] = k
    return ids


def test_feedback_and_the_experiment_from_python(split):
    dep, X, y = split
    ids = ask(dep, X, range(0, 150, 3))
    first = dict(list(ids.items())[:20])
    fed = maas_nb.feedback("iris", {i: int(y[k]) for i, k in first.items()})
    assert fed["joined"] == 20 and fed["unknown"] == [] and sum(fed["versions"].values()) == 20
    rest = list(ids.items())[20:]
    frame = pd.DataFrame({"id": [i for i, _ in rest], "truth": y[[k for _, k in rest]]})
    assert maas_nb.feedback("iris", frame)["joined"] == len(rest)
    assert maas_nb.feedback("iris", ["gone"], [np.int64(1)])["unknown"] == ["gone"]
    found = maas_nb.experiment("iris")
    assert isinstance(found, Experiment) and found["primary"] == "iris:1"
    versions = {v["version"]: v for v in found["versions"]}
    assert sum(v["feedback"]["count"] for v in versions.values()) == len(ids)
    text = repr(found)
    assert text.splitlines()[0] == "Experiment iris (generation 2, primary iris:1, last 300 s)"
    assert text.splitlines()[1].split() == [
        "version",
        "role",
        "weight",
        "requests",
        "error",
        "rate",
        "p50",
        "ms",
        "p99",
        "ms",
        "agreement",
        "feedback",
        "accuracy",
    ]
    assert "warning: too few requests to tell iris:2 from iris:1" in text
    page = found._repr_html_()
    assert "<svg" in page and 'id="maas-live-iris:2-accuracy"' in page
    assert "&#9888; too few requests" in page


def test_feedback_refusals_say_what_to_do(split):
    with pytest.raises(ConfigurationError, match="got 2 ids and 1 truths"):
        maas_nb.feedback("iris", ["a", "b"], [1])
    with pytest.raises(ConfigurationError, match="a dict id -> truth, a DataFrame"):
        maas_nb.feedback("iris", 3)
    with pytest.raises(PredictionError) as info:
        maas_nb.feedback("iris", {"a": {"x": 1}})
    assert str(info.value) == (
        "Deployment 'iris' refused the feedback (422): feedback[0].truth must be a label or a "
        "finite number (or, for a request of several rows, a list of them), got {'x': 1}. "
        "Send labels as strings or small integers (at most 2**53 in magnitude) and numbers "
        "as finite floats."
    )
    assert feedback_items({"a": np.float64(0.5)}) == [{"id": "a", "truth": 0.5}]


def test_feedback_from_a_file_and_from_the_magic(split, tmp_path, capsys):
    dep, X, y = split
    ids = list(ask(dep, X, range(6)).items())
    truth = tmp_path / "truth.csv"
    truth.write_text("id,truth\n" + "".join(f"{i},{y[k]}\n" for i, k in ids[:2]))
    assert main(["--json", "feedback", "iris", "--file", str(truth)]) == 0
    assert json.loads(capsys.readouterr().out)["joined"] == 2
    as_json = tmp_path / "truth.json"
    as_json.write_text(json.dumps({i: int(y[k]) for i, k in ids[2:3]}))
    assert main(["feedback", "iris", "--file", str(as_json)]) == 0
    card = capsys.readouterr().out.splitlines()
    assert card[:3] == ["Feedback for iris", "  joined          1", "  unknown         0"]
    assert card[3].startswith("  rows of iris:")
    assert main(["experiment", "iris"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("Experiment iris (generation 2, primary iris:1, last 300 s)\n")
    shell = Shell.instance()
    try:
        shell.run_cell("%load_ext maas_nb")
        shell.user_ns["truth"] = pd.Series(
            [int(y[k]) for _, k in ids[3:5]], index=[i for i, _ in ids[3:5]]
        )
        shell.user_ns["more"] = {ids[5][0]: int(y[ids[5][1]])}
        magics = shell.magics_manager.registry["MaasMagics"]
        shell.run_line_magic("maas", "feedback iris truth")
        assert magics.last_result.data["joined"] == 2
        shell.run_line_magic("maas", "feedback iris more")
        assert magics.last_result.data["joined"] == 1
        again = tmp_path / "again.csv"
        again.write_text(f"id,truth\n{ids[0][0]},1\n")
        shell.run_line_magic("maas", f"feedback iris --file {again}")
        assert magics.last_result.data["unknown"] == [ids[0][0]]
        shown = shell.run_line_magic("maas", "experiment iris")
        assert "<svg" in shown._repr_html_() and repr(shown) == repr(magics.last_result.value)
        with pytest.raises(Exception, match="needs the ground truth of request ids"):
            shell.run_line_magic("maas", "feedback iris")
    finally:
        Shell.clear_instance()


def test_feedback_in_several_big_chunks(split, monkeypatch):
    """Chunks of 64 KiB and more (parsed off the event loop) are all joined: ids of 200
    characters, 400 per chunk, and each version's accuracy is sklearn's on its rows."""
    from sklearn.metrics import accuracy_score

    from maas_nb.deploying import experiments

    dep, X, y = split
    monkeypatch.setattr(experiments, "CHUNK", 400)  # 2 chunks of ~90 KB, not 2 of 10,000 ids
    answered: dict[str, list[tuple[str, int]]] = {}
    with httpx.Client(trust_env=False, timeout=30) as client:
        for n in range(800):
            k = n % len(X)
            row = {"name": "input", "shape": [1, 4], "datatype": "FP64", "data": list(X[k])}
            r = client.post(dep.url, json={"id": f"{n:04d}" + "x" * 196, "inputs": [row]})
            assert r.status_code == 200, r.text
            answered.setdefault(r.headers["x-maas-version"], []).append((r.json()["id"], k))
    truth = {rid: int(y[k]) for pairs in answered.values() for rid, k in pairs}
    assert len(json.dumps([{"id": i, "truth": 1} for i in list(truth)[:400]])) > 64 * 1024
    fed = maas_nb.feedback("iris", truth)
    assert fed["joined"] == 800 and fed["unknown"] == [] and fed["mismatched"] == []
    versions = {v["version"]: v["feedback"] for v in maas_nb.experiment("iris")["versions"]}
    models = {"iris:1": "production", "iris:2": "candidate"}
    for label, alias in models.items():
        rows = [k for _, k in answered[label]]
        model = maas_nb.load(f"iris@{alias}")
        assert versions[label]["count"] == len(rows)
        assert versions[label]["value"] == accuracy_score(y[rows], model.predict(X[rows]))


def test_an_unreadable_feedback_file_says_what_to_give(tmp_path):
    from maas_nb.commands.experiment_verbs import _read_file

    broken = tmp_path / "truth.json"
    broken.write_text("{not json")
    with pytest.raises(ConfigurationError) as caught:
        _read_file(broken)
    assert "Give a readable file that is either a .csv with a header row id,truth" in str(
        caught.value
    )
    with pytest.raises(ConfigurationError, match=r"either a \.csv with a header row id,truth"):
        _read_file(tmp_path / "missing.csv")
