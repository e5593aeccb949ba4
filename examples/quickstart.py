"""Quickstart: train a model, register it on the embedded default registry, load it back.

Run with ``python examples/quickstart.py``. The registry lives in ``$MAAS_HOME``
(default ``~/.maas``): a SQLite database and a content-addressed artifact store.
"""

from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

import maas_nb

X, y = load_iris(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)

model = LogisticRegression(max_iter=1000).fit(X_train, y_train)
accuracy = model.score(X_test, y_test)

version = maas_nb.register(
    model,
    "iris",
    sample=X_train.head(5),
    metrics={"accuracy": accuracy},
    description="Logistic regression on the iris data set",
    alias="production",
)
print(
    f"Registered {version.uri} ({version.flavor}, {version.size} bytes, {version.digest[:19]}...)"
)
print(f"Signature: {version.signature}")

loaded = maas_nb.load("iris@production")  # verifies the artifact's sha256 before loading
predictions = loaded.predict(X_test.head(5))
assert (predictions == model.predict(X_test.head(5))).all()
print(f"iris@production -> {maas_nb.get('iris@production').uri}, accuracy {accuracy:.3f}")
print(f"Predictions for 5 test rows: {predictions.tolist()}")
