"""Quickstart: train a model, register it, deploy it as an HTTP endpoint, and call it.

Run with ``python examples/quickstart.py``. Everything uses the embedded default:
a registry in ``$MAAS_HOME`` (default ``~/.maas``: a SQLite database and a
content-addressed artifact store) and a model server on 127.0.0.1.
"""

from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

import maas_nb
from maas_nb.deploying import server_url

X, y = load_iris(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)

# Train
model = LogisticRegression(max_iter=1000).fit(X_train, y_train)
accuracy = model.score(X_test, y_test)

# Register: a versioned, sha256-verified artifact with its signature and metrics
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

loaded = maas_nb.load("iris@production")  # verifies the artifact's digest before loading
assert (loaded.predict(X_test.head(5)) == model.predict(X_test.head(5))).all()

# Deploy: a local server on 127.0.0.1 serves iris@production (it follows the alias)
server_was_running = server_url() is not None
deployment = maas_nb.deploy("iris@production")
print(f"Deployed: {deployment.url} ({deployment.status})")
print(f"Try it:   {deployment.curl()}")

# Predict over HTTP
predictions = deployment.predict(X_test.head(5))
assert (predictions == model.predict(X_test.head(5))).all()
print(f"Predictions over HTTP for 5 test rows: {predictions.tolist()} (accuracy {accuracy:.3f})")

# Clean up what this script started (a deployment outlives the script otherwise)
maas_nb.undeploy("iris")
if not server_was_running:
    maas_nb.stop_server()
print("Undeployed; run `maas deploy iris@production` to serve it again.")
