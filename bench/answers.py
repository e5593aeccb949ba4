"""Checks bench/serving.py runs before timing: a wrong answer served fast is no result."""

from __future__ import annotations

import httpx
import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn_forest import ScikitLearnForest


def check_answers(server: str, url: str, model, X: np.ndarray, *, keras: bool = False) -> None:
    """Exit, naming the difference, unless *url* answers like ``model.predict``.

    A Keras model's answers are float32 probabilities, equal to float32 rounding: its
    ``predict`` and its direct call may round the last bit differently."""
    for rows in (X[:1], X[:16]):  # the timed request, then rows of both classes
        want = model.predict(rows, verbose=0).tolist() if keras else model.predict(rows).tolist()
        try:
            response = httpx.post(
                url, json={"instances": rows.tolist()}, timeout=60, trust_env=False
            )
            got = f"HTTP {response.status_code}: {response.text[:200]}"
            if response.status_code == 200:
                body = response.json()
                got = body.get("predictions") if isinstance(body, dict) else body
        except (httpx.HTTPError, ValueError) as exc:
            got = f"{type(exc).__name__}: {exc}"
        if keras and _close(got, want):
            continue
        if got != want:
            raise SystemExit(
                f"Refusing to time {server}: POST {url} with {len(rows)} row(s) answered "
                f"{got!r}, but the model's own predict gives {want!r}. A fast wrong answer "
                "is not a result: fix the server, then rerun."
            )


def check_kernel_rows(forest: RandomForestClassifier, twin: ScikitLearnForest, X) -> None:
    """Exit unless rf uses maas_nb's forest kernel and rf-skl does not."""
    from maas_nb.flavors.forests import forest_proba

    if forest_proba(forest, X[:1]) is None or forest_proba(twin, X[:1]) is not None:
        raise SystemExit(
            "The rf row must use maas_nb's forest kernel and rf-skl must not, but "
            f"forest_proba took rf: {forest_proba(forest, X[:1]) is not None}, rf-skl: "
            f"{forest_proba(twin, X[:1]) is not None}. Update ScikitLearnForest to match "
            "how maas_nb/flavors chooses the kernel."
        )


def _close(got, want) -> bool:
    try:
        return bool(np.allclose(np.asarray(got, dtype=float), want, rtol=1e-5, atol=1e-6))
    except (TypeError, ValueError):
        return False
