"""One command table: every shared verb, run through ``maas`` and through ``%maas`` on the
same registry, returns the same `Result`.

The verbs come from the table itself, so a verb added to it without a case here fails.
Values that differ by nature between two calls (a new run's id and times, a deployment's
revision) are compared after dropping them; everything else, the stable text both front
ends show included, must be equal.
"""

import json
import re
import shutil

import numpy as np
import pytest

import maas_nb
from maas_nb.cli import execute
from maas_nb.commands import COMMANDS, Result
from maas_nb.commands.render import as_text
from maas_nb.serving.outcomes import Outcome
from maas_nb.serving.prediction_log import PredictionLog
from tests.helpers import offer, write_notebook

#: Keys whose values are new on every call: ids, times, a deployment's revision.
VOLATILE = {
    "id",
    "run",
    "rerun",
    "run_id",
    "created_at",
    "started_at",
    "ended_at",
    "duration_s",
    "revision",
    "output_digest",
    "digest",  # skops writes a zip with times in it: the same model, new bytes
    "uri_of_run",
    "at",  # when a promotion was made
}

TRAIN = """from sklearn.dummy import DummyClassifier
import maas_nb

with maas_nb.training_run("probe") as training:
    training.complete(DummyClassifier().fit([[0.0]], [0]), metrics={"c": C})"""


def stable(data):
    if isinstance(data, dict):
        return {k: stable(v) for k, v in data.items() if k not in VOLATILE}
    if isinstance(data, list):
        return [stable(v) for v in data]
    return data


def same(cli: Result, magic: Result, normal=lambda text: text) -> None:
    """*cli* and *magic* are the same result; *normal* maps what may differ to one form."""
    assert (cli.verb, type(cli.value), type(cli.view)) == (
        magic.verb,
        type(magic.value),
        type(magic.view),
    )

    def data(result):
        return stable(json.loads(normal(json.dumps(result.data))))

    assert data(cli) == data(magic)
    assert normal(as_text(cli.view, detail=False)) == normal(as_text(magic.view, detail=False))


def renumbered(text):
    """A model deleted and registered again gets a new version number (never reused)."""
    return re.sub(r'"version": \d+', '"version": 0', re.sub(r"scratch:\d+", "scratch:N", text))


@pytest.fixture
def notebook(tmp_path):
    return write_notebook(tmp_path / "probe.ipynb", TRAIN, parameters="C = 1.0")


@pytest.mark.slow
def test_every_shared_verb_returns_the_same_result_from_both_front_ends(
    ip, classifier, iris, notebook, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    X, _ = iris
    maas_nb.register(classifier, "iris", sample=X[:5], alias="production")
    maas_nb.register(classifier, "iris", metrics={"accuracy": 0.9})
    training = maas_nb.registry().start_run("fit")
    maas_nb.registry().end_run(training.id, metrics={"accuracy": 0.9})
    magics = ip.magics_manager.registry["MaasMagics"]
    tried = set()

    def both(line, *, before=None, normal=lambda text: text):
        """Run *line* through the CLI, then (after *before*) through the magic."""
        verb = line.split()[0]
        tried.add(verb)
        _, from_cli = execute(line.split())
        if before is not None:
            before()
        magics.last_result = None
        ip.run_line_magic("maas", line)
        same(from_cli, magics.last_result, normal)
        return from_cli

    both("models")
    both("versions iris")
    both("versions iris --metric accuracy>0.5")
    # A page with more after it ends in the command for the next, in each front end's words.
    paged = both(
        "versions iris --mine --limit 1",
        normal=lambda text: text.replace("%maas ", "maas "),
    )
    assert as_text(paged.view, detail=False).endswith(
        f"maas versions iris --mine --limit 1 --after {paged.value.next}"
    )
    both("show iris@production")
    both("compare iris:1 iris@latest iris:2")
    both("alias iris:2 staging")
    both("unalias iris staging", before=lambda: maas_nb.set_alias("iris:2", "staging"))
    both("training-runs")
    both("training-runs --user nobody --metric accuracy>0.5")
    both("doctor")
    both("registry gc --dry-run")
    copied = tmp_path / "copied"
    both(f"registry copy - {copied}", before=lambda: shutil.rmtree(copied))
    maas_nb.register(classifier, "scratch")
    both(
        "delete scratch --yes",
        before=lambda: maas_nb.register(classifier, "scratch"),
        normal=renumbered,
    )

    deployed = both("deploy iris@production")
    assert deployed.data["status"] == "ready"
    both("deployments")
    both("deployments --mine")

    # Each front end's split is a new generation of it: the number differs, nothing else.
    def generation(text):
        return re.sub(r"generation([\"\s:]+)\d+", r"generation\g<1>0", text)

    both("traffic iris production=90 2=10 --sticky", normal=generation)
    # The window's bucket times move between the two calls; nothing else does.
    both("experiment iris", normal=lambda text: re.sub(r'"t": \[[^\]]*\]', '"t": []', text))
    assert both('feedback iris {"nobody":1}').data["unknown"] == ["nobody"]
    split = {"production": 90, "2": 10}
    both("rollback iris", before=lambda: maas_nb.traffic("iris", split), normal=generation)
    both("promote iris 2", before=lambda: maas_nb.rollback("iris"), normal=generation)
    maas_nb.rollback("iris")  # production names version 1 again
    maas_nb.undeploy("iris")  # a fresh row of one version, as the verbs below expect
    maas_nb.deploy("iris@production")
    ip.user_ns["rows"] = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
    tried.add("predict")
    _, from_cli = execute(["predict", "iris", "[[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]"])
    ip.run_line_magic("maas", "predict iris rows")
    same(from_cli, magics.last_result)
    assert from_cli.data == classifier.predict(ip.user_ns["rows"]).tolist()
    both("server status")
    # The server's own sink writes the log that both front ends read.
    log = PredictionLog(maas_nb.registry().home, lambda name: {"sample": 1.0})
    rows = np.array(ip.user_ns["rows"])
    offer(
        log,
        Outcome(
            "iris", "iris", 1, "r1", 0.002, 2, rows, {"predictions": np.array([0, 2])}, False, 0.0
        ),
    )
    log.close()
    assert both("predictions iris").data[1]["x2"] == 5.2
    assert both("drift iris").data["version"] == "iris:1"
    both("undeploy iris", before=lambda: maas_nb.deploy("iris@production"))

    ran = both(f"run {notebook} -p C 2")
    assert (ran.data["status"], ran.data["parameters"]) == ("finished", {"C": 2})
    both("runs")
    both("runs --user nobody")
    both(f"runs show {ran.data['id'][:12]}")
    both(f"rerun {ran.data['id'][:12]}")
    swept = both(f"sweep {notebook} -p C 3 --best c")
    assert swept.data[0]["c"] == 3

    missing = set(COMMANDS) - tried
    assert not missing, f"shared verbs with no case here: {sorted(missing)}"
