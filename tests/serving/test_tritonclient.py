"""The real ``tritonclient[http]`` client talks to our server."""

import numpy as np
import pytest
import tritonclient.http as httpclient  # in the dev extra: a missing client fails, never skips

import maas_nb
from tests.conftest import CORPUS


def client_for(server):
    return httpclient.InferenceServerClient(url=server.url.removeprefix("http://"))


@pytest.mark.parametrize("binary", [True, False])
def test_infer_with_tritonclient(shared_iris_server, classifier, iris, binary):
    X, _ = iris
    client = client_for(shared_iris_server)
    try:
        assert client.is_server_live()
        assert client.is_server_ready()
        assert client.is_model_ready("iris")
        meta = client.get_model_metadata("iris")
        assert meta["inputs"][0]["datatype"] == "FP64"
        inp = httpclient.InferInput("input", [5, 4], "FP64")
        inp.set_data_from_numpy(X[:5], binary_data=binary)
        outputs = [
            httpclient.InferRequestedOutput("predictions", binary_data=binary),
            httpclient.InferRequestedOutput("probabilities", binary_data=binary),
        ]
        result = client.infer("iris", [inp], outputs=outputs)
        np.testing.assert_array_equal(result.as_numpy("predictions"), classifier.predict(X[:5]))
        np.testing.assert_allclose(
            result.as_numpy("probabilities"), classifier.predict_proba(X[:5])
        )
        assert result.get_response()["model_version"] == "1"
    finally:
        client.close()


def test_tritonclient_sends_text_as_bytes(start_server, text_pipeline):
    registry = maas_nb.api.registry()
    registry.register(text_pipeline, "reviews", sample=[d for d, _ in CORPUS][:2])
    registry.put_deployment("reviews", "reviews", {})
    server = start_server()
    server.reconcile()
    client = client_for(server)
    try:
        texts = np.array(["a wonderful film", "boring and awful"], dtype=object)
        inp = httpclient.InferInput("text", [2], "BYTES")
        inp.set_data_from_numpy(texts)
        result = client.infer("reviews", [inp])
        labels = [v.decode() if isinstance(v, bytes) else v for v in result.as_numpy("predictions")]
        assert labels == text_pipeline.predict(texts.tolist()).tolist()
    finally:
        client.close()


def test_tritonclient_sees_our_errors(shared_iris_server):
    client = client_for(shared_iris_server)
    try:
        inp = httpclient.InferInput("input", [1, 3], "FP64")
        inp.set_data_from_numpy(np.zeros((1, 3)))
        with pytest.raises(
            Exception,
            match=r"Input 'input' has shape \[1, 3\], but model 'iris:1' declares \[-1, 4\]",
        ):
            client.infer("iris", [inp])
    finally:
        client.close()
