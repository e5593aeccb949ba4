"""A RandomForestClassifier that maas_nb serves through scikit-learn's own predict_proba.

maas_nb's sklearn flavor walks the trees itself (``maas_nb/flavors/forests.py``) only
for the exact classes RandomForestClassifier and ExtraTreesClassifier; any subclass goes
to ``predict_proba``. This subclass adds nothing, so behind the same server it isolates
the kernel's share of the forest's speed from the server's (batching, decoding).
"""

from __future__ import annotations

from typing import Any

from sklearn.ensemble import RandomForestClassifier


class ScikitLearnForest(RandomForestClassifier):
    """The same fitted forest; only its class differs."""


def same_forest(forest: RandomForestClassifier) -> ScikitLearnForest:
    """A ScikitLearnForest holding *forest*'s fitted trees."""
    copy: Any = ScikitLearnForest(**forest.get_params())
    copy.__dict__.update(forest.__dict__)
    return copy
