"""Batching settings are checked once, in deploy(): the API, the CLI and the magic agree."""

import pytest

import maas_nb.deploying
from maas_nb.cli import main
from maas_nb.exceptions import ConfigurationError

BATCH = "max_batch_size is {}; give a whole number of at least 1: the most rows per model call (the default is 64)."
LATENCY = (
    "max_latency_ms is -1.0; give a number of milliseconds of at least 0: how long a request "
    "waits for batch mates (the default is 5.0, 0 sends each request at once)."
)
QUEUE = (
    "max_queue_rows is 0; give a whole number of at least 1: the most rows waiting before "
    "requests answer 503 (the default is the larger of 4096 and 16 batches)."
)

CASES = [
    (["--max-batch-size", "0"], {"max_batch_size": 0}, BATCH.format(0)),
    (["--max-batch-size", "-5"], {"max_batch_size": -5}, BATCH.format(-5)),
    (["--max-latency-ms", "-1"], {"max_latency_ms": -1.0}, LATENCY),
    (["--max-queue-rows", "0"], {"max_queue_rows": 0}, QUEUE),
]
IDS = ["batch-0", "batch-negative", "latency-negative", "queue-0"]


@pytest.mark.parametrize(("options", "kwargs", "message"), CASES, ids=IDS)
def test_the_api_refuses(registry, classifier, options, kwargs, message):
    registry.register(classifier, "iris")
    with pytest.raises(ConfigurationError) as info:
        maas_nb.deploying.deploy("iris", **kwargs)
    assert str(info.value) == message
    assert registry.list_deployments() == []


@pytest.mark.parametrize(("options", "kwargs", "message"), CASES, ids=IDS)
def test_the_cli_refuses(capsys, options, kwargs, message):
    assert main(["deploy", "iris", *options]) == 1
    assert capsys.readouterr().err == f"maas: error: {message}\n"


@pytest.mark.parametrize(("options", "kwargs", "message"), CASES, ids=IDS)
def test_the_magic_refuses(ip, options, kwargs, message):
    with pytest.raises(ConfigurationError) as info:
        ip.run_line_magic("maas", " ".join(["deploy", "iris", *options]))
    assert str(info.value) == message


def test_the_api_takes_numpy_integers(registry, classifier):
    import numpy as np

    from maas_nb.deploying.batching import settings

    assert settings(np.int64(8), 0, np.int32(100)) == {
        "max_batch_size": 8,
        "max_latency_ms": 0.0,
        "max_queue_rows": 100,
    }
