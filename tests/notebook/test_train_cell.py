"""``%%maas train`` of Keras models: what the cell prints, and how the trained classifier
answers from every endpoint and from ``%maas predict``."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import numpy as np
import pytest

from tests.helpers import ROOT

#: A real shell (no kernel, so Keras logs one line per epoch) running one training cell.
SHELL = '''
from IPython.core.interactiveshell import InteractiveShell

shell = InteractiveShell.instance()
shell.run_cell("%load_ext maas_nb")
result = shell.run_cell("""%%maas train net --register
import warnings
import keras, numpy as np
warnings.warn("the cell's own warning")
rng = np.random.default_rng(0)
X = rng.normal(size=(64, 4)).astype("float32"); y = (X.sum(1) > 0).astype("int64")
net = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(2, activation="softmax")])
net.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
net.fit(x=X, y=y, epochs=2, batch_size=32)
""")
result.raise_error()
version = result.result.version
print("registered", version.uri, [(s.name, s.dtype) for s in version.signature.outputs])
'''


@pytest.mark.slow
def test_tensorflow_log_lines_stay_out_of_a_training_cell(home):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}
    done = subprocess.run(
        [sys.executable, "-c", SHELL],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    printed = done.stdout + done.stderr
    assert done.returncode == 0, printed
    # Labels learnt from the training y (passed as keywords): the network is a classifier.
    outputs = "[('predictions', 'int64'), ('probabilities', 'float32')]"
    assert f"registered net:1 {outputs}" in done.stdout
    assert "Epoch 2/2" in done.stdout
    assert "the cell's own warning" in done.stderr, "the user's warnings still show"
    for line in ("oneDNN custom operations", "absl::InitializeLog", "cpu_feature_guard"):
        assert line not in printed, printed


CELL = """
import keras
keras.utils.set_random_seed(0)
species = np.array(["setosa", "versicolor", "virginica"])
net = keras.Sequential([
    keras.Input(shape=(4,)),
    keras.layers.Dense(8, activation="relu"),
    keras.layers.Dense(3, activation="softmax"),
])
net.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
net.fit(X_train, y_train, epochs=20, verbose=0)
net.classes_ = species
species_test = species[y_test]
"""


@pytest.mark.slow
def test_a_keras_classifier_answers_labels_and_probabilities_everywhere(ip):
    import numpy

    ip.user_ns["np"] = numpy
    result = ip.run_cell_magic("maas", "train flowers --register --eval X_test species_test", CELL)
    version = result.value.version
    assert [(s.name, s.dtype, s.shape) for s in version.signature.outputs] == [
        ("predictions", "str", (-1,)),
        ("probabilities", "float32", (-1, 3)),
    ]
    assert set(result.value.run.metrics) == {"accuracy", "f1"}
    assert result.value.run.metrics["accuracy"] > 0.8
    net, X = ip.user_ns["net"], ip.user_ns["X_test"][:6]
    proba = net.predict(X, verbose=0)
    labels = ip.user_ns["species"][proba.argmax(axis=1)].tolist()

    deployment = ip.run_line_magic("maas", "deploy flowers --name web")
    assert ip.run_line_magic("maas", "predict web X_test[:6]").tolist() == labels
    server = deployment.server
    tensor = {"name": "input", "shape": [6, 4], "datatype": "FP64", "data": X.ravel().tolist()}
    top_class = {"name": "probabilities", "parameters": {"classification": 1}}
    with httpx.Client(base_url=server, timeout=60) as client:
        answers = [
            client.post("/v2/models/web/infer", json={"inputs": [tensor]}),
            client.post("/v2/models/web/infer", json={"inputs": [tensor], "outputs": [top_class]}),
            client.post("/v1/models/web:predict", json={"instances": X.tolist()}),
            client.post("/invocations", json={"instances": X.tolist()}),
        ]
    assert [r.status_code for r in answers] == [200] * 4, [r.text for r in answers]
    oip, classified, tf, mlflow = (r.json() for r in answers)
    predictions, probabilities = oip["outputs"]
    (top,) = classified["outputs"]
    assert (predictions["datatype"], predictions["data"]) == ("BYTES", labels)
    assert (probabilities["datatype"], probabilities["shape"]) == ("FP32", [6, 3])
    np.testing.assert_allclose(np.reshape(probabilities["data"], (6, 3)), proba, rtol=1e-5)
    assert [t.rsplit(":", 1)[-1] for t in top["data"]] == labels
    assert [row["predictions"] for row in tf["predictions"]] == labels
    np.testing.assert_allclose(
        [row["probabilities"] for row in tf["predictions"]], proba, rtol=1e-5
    )
    assert mlflow == {"predictions": labels}


LIGHTGBM = """
import lightgbm
species = np.array(["setosa", "versicolor", "virginica"], dtype=object)
gbm = lightgbm.LGBMClassifier(n_estimators=10, num_leaves=7, verbose=-1)
gbm.fit(X_train, species[y_train])
species_test = species[y_test]
"""


def test_a_lightgbm_classifier_is_trained_registered_deployed_and_served(ip):
    import numpy

    ip.user_ns["np"] = numpy
    result = ip.run_cell_magic("maas", "train gbm --register --eval X_test species_test", LIGHTGBM)
    run, version = result.value.run, result.value.version
    assert (version.flavor, version.uri) == ("lightgbm", "gbm:1")
    assert run.params["n_estimators"] == 10 and version.params == run.params
    assert {"lightgbm", "scikit-learn"} <= set(run.lineage["packages"])
    assert [(s.name, s.dtype, s.shape) for s in version.signature.outputs] == [
        ("predictions", "str", (-1,)),
        ("probabilities", "float64", (-1, 3)),
    ]
    gbm, X = ip.user_ns["gbm"], ip.user_ns["X_test"][:6]
    assert run.metrics["accuracy"] == float(
        np.mean(gbm.predict(ip.user_ns["X_test"]) == ip.user_ns["species_test"])
    )
    deployment = ip.run_line_magic("maas", "deploy gbm --name web")
    assert ip.run_line_magic("maas", "predict web X_test[:6]").tolist() == gbm.predict(X).tolist()
    tensor = {"name": "input", "shape": [6, 4], "datatype": "FP64", "data": X.ravel().tolist()}
    top_class = {"name": "probabilities", "parameters": {"classification": 1}}
    with httpx.Client(base_url=deployment.server, timeout=60) as client:
        answers = [
            client.post("/v2/models/web/infer", json={"inputs": [tensor]}),
            client.post("/v2/models/web/infer", json={"inputs": [tensor], "outputs": [top_class]}),
        ]
    assert [r.status_code for r in answers] == [200] * 2, [r.text for r in answers]
    (predictions, probabilities), (top,) = (r.json()["outputs"] for r in answers)
    assert predictions["data"] == gbm.predict(X).tolist()
    np.testing.assert_array_equal(np.reshape(probabilities["data"], (6, 3)), gbm.predict_proba(X))
    assert [t.rsplit(":", 1)[-1] for t in top["data"]] == gbm.predict(X).tolist()
