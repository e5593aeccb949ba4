"""Charts in a notebook: a Keras fit's history on the training card and in ``%maas show``,
steps a cell logs, and ``%maas compare``; the text forms stay charts-free for nbval."""

import re

import pytest

KERAS = """
import keras, numpy as np
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
X = rng.normal(size=(96, 4)).astype("float32"); y = (X.sum(1) > 0).astype("int64")
net = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(2, activation="softmax")])
net.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
net.fit(X, y, epochs=3, batch_size=32, validation_split=0.25, verbose=0)
"""

LOGGED = """
import maas_nb
from sklearn.linear_model import LogisticRegression
for step in range(4):
    maas_nb.log(step=step * 5, loss=1 / (step + 1))
model = LogisticRegression(C={C}, max_iter=1000).fit(X_train, y_train)
"""


def groups(html):
    return re.findall(r'<g id="(maas-[^"]+)">', html)


@pytest.mark.slow
def test_a_keras_fit_records_its_history_and_the_card_and_show_draw_it(ip):
    card = ip.run_cell_magic("maas", "train net --register", KERAS)
    run = card.value.run
    epochs = dict(run.lineage["history"]["epochs"])
    kept = ip.user_ns["net"].history.history
    assert set(epochs) == {"loss", "val_loss", "accuracy", "val_accuracy"}
    assert all(len(series) == 3 for series in epochs.values())
    assert epochs == {k: pytest.approx([float(x) for x in v]) for k, v in kept.items()}

    expected = [f"maas-series-epoch-{k}" for k in ("accuracy", "val_accuracy", "loss", "val_loss")]
    assert groups(card._repr_html_()) == expected
    assert "<svg" not in repr(card)
    shown = ip.run_line_magic("maas", "show net:1")
    assert groups(shown._repr_html_()) == expected
    assert ">val_loss</text>" in shown._repr_html_()
    assert "<svg" not in repr(shown)


def test_steps_a_training_cell_logs_are_drawn_and_compare_draws_bars(ip):
    for C in (0.01, 1.0):
        card = ip.run_cell_magic(
            "maas", "train iris --register --eval X_test y_test", LOGGED.format(C=C)
        )
        assert card.value.run.lineage["history"]["steps"]["loss"][-1] == [15, 0.25]
        assert groups(card._repr_html_()) == ["maas-series-step-loss"]
    shown = ip.run_line_magic("maas", "compare iris:1 iris:2")
    assert groups(shown._repr_html_()) == [
        f"maas-bar-iris:{n}-{metric}" for n in (1, 2) for metric in ("accuracy", "f1")
    ]
    first, second = (ip.run_line_magic("maas", f"show iris:{n}").value for n in (1, 2))
    # The table is the text form: what nbval compares and what the CLI prints.
    assert [line.split() for line in repr(shown).splitlines()] == [
        ["version", "accuracy", "f1"],
        *(
            [v.uri, f"{v.metrics['accuracy']:.4g}", f"{v.metrics['f1']:.4g}"]
            for v in (first, second)
        ),
    ]
    assert "<svg" not in repr(shown)
    assert [v.uri for v in shown.value] == ["iris:1", "iris:2"]
