"""Exact, faster class probabilities for scikit-learn forests on the serving hot path.

``RandomForestClassifier.predict_proba`` spends most of a small batch in per-tree
Python overhead (a joblib call and input validation per tree): about 4 ms for 100 trees
whatever the batch size. Walking each fitted tree directly gives bit-identical results
(same operations, same order) in a fraction of that. Anything unusual (DataFrames,
missing values, wrong widths, multi-output, subclasses) goes through scikit-learn itself.

Each tree's leaf probabilities are made once per fitted forest, not once per call, as
the installed scikit-learn's ``DecisionTreeClassifier.predict_proba`` makes them (older
versions divide a leaf's values by their sum, newer ones store fractions and give them
as they are; `_tree_normalises` asks): a call is then one ``apply`` and one gather per
tree, which halves its fixed cost, the cost a small batch pays in full (a traffic
split's minority version sees mostly small batches).

A small batch (rows x the deepest tree's depth up to `SMALL`) walks every tree at once
instead: the trees' nodes are laid end to end in flat arrays (a node's two children side
by side, a leaf its own child), and each step moves every (row, tree) pair one level
down with a handful of numpy calls, then the leaf probabilities are summed tree after
tree (a cumulative sum: the same additions in the same order, so the same bits). Such
a call costs a tenth of the tree-by-tree walk for one row, and holds the GIL throughout
instead of giving it up and waiting for it again once per tree, which costs a model
called off the event loop a wait for the loop's thread every time (a "convoy").
"""

from __future__ import annotations

import functools
import weakref
from typing import Any

import numpy as np

#: Rows x depth up to which a batch walks all trees at once (`_Flat`); above it, tree
#: by tree. Measured on 100 trees: equal costs at about 22 rows of depth 24; at depth 8
#: the walk all at once is still 1.5x faster at 128 rows (a default batch is 64).
SMALL = 512


class _Flat:
    """Every tree's nodes end to end, laid out so that an internal node's two children
    are next to each other (left, then right): a step down is ``child[node] + right``.
    Per node: the feature compared, the threshold as the largest float32 not above
    scikit-learn's float64 one (for float32 ``x``, ``x <= t`` exactly when ``x <= t32``:
    the same branch, compared without widening), the left child, the probabilities. A
    leaf compares feature 0 against +inf (always left) and is its own child, so a walk
    that reached it stays. Fewer, smaller arrays than one per field of scikit-learn's
    layout: a small batch's cost is mostly fetching them from memory."""

    __slots__ = ("child", "depth", "feature", "proba", "roots", "threshold")

    def __init__(self, trees: list[tuple[Any, np.ndarray]], depth: int) -> None:
        self.depth = depth
        features, thresholds, children, probas, roots = [], [], [], [], []
        offset = 0
        for tree, proba in trees:
            old, child = _children_side_by_side(tree.children_left, tree.children_right)
            leaf = tree.children_left[old] == -1
            features.append(np.where(leaf, 0, tree.feature[old]))
            thresholds.append(np.where(leaf, np.inf, _float32_at_most(tree.threshold[old])))
            children.append(child + offset)
            probas.append(proba[old])
            roots.append(offset)
            offset += tree.node_count
        self.feature = np.concatenate(features).astype(np.intp)
        self.threshold = np.concatenate(thresholds).astype(np.float32)
        self.child = np.concatenate(children).astype(np.intp)
        self.proba = np.concatenate(probas)
        self.roots = np.asarray(roots, dtype=np.intp)

    def predict_proba(self, X32: np.ndarray) -> np.ndarray:
        n, width = X32.shape
        nodes = self.roots[np.newaxis, :].repeat(n, axis=0)  # (methods: no numpy wrapper)
        starts = (np.arange(n, dtype=np.intp) * width)[:, np.newaxis]
        flat = X32.ravel()
        for _ in range(self.depth):
            right = flat[starts + self.feature[nodes]] > self.threshold[nodes]
            nodes = self.child[nodes] + right
        summed = self.proba[nodes].cumsum(axis=1)[:, -1, :]  # tree after tree
        summed /= len(self.roots)
        return summed


def _children_side_by_side(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A tree's nodes in breadth-first order, each internal node's children next to each
    other: for each new position, the node's old index, and its left child's new position
    (a leaf's own)."""
    n = len(left)
    old = np.zeros(n, dtype=np.intp)
    child = np.arange(n, dtype=np.intp)
    i, placed = 0, 1
    while i < placed:  # once per fitted forest, when its first small batch comes
        node = old[i]
        if left[node] != -1:
            child[i] = placed
            old[placed], old[placed + 1] = left[node], right[node]
            placed += 2
        i += 1
    return old, child


def _float32_at_most(threshold: np.ndarray) -> np.ndarray:
    """The largest float32 not above each float64 *threshold* (as float32)."""
    t32 = threshold.astype(np.float32)  # to nearest: may round up
    up = t32.astype(np.float64) > threshold
    t32[up] = np.nextafter(t32[up], np.float32(-np.inf))
    return t32


class _Cached:
    """What a fitted forest's calls reuse: its ``estimators_`` list when cached, each tree
    with its leaf probabilities, and the flat layout (made on the first small batch)."""

    __slots__ = ("depth", "estimators", "flat", "trees")

    def __init__(self, estimators: list, trees: list[tuple[Any, np.ndarray]]) -> None:
        self.estimators = estimators
        self.trees = trees
        self.depth = max(int(tree.max_depth) for tree, _ in trees)
        self.flat: _Flat | None = None


_cached: weakref.WeakKeyDictionary[Any, _Cached] = weakref.WeakKeyDictionary()


def forest_proba(model: Any, X: Any) -> np.ndarray | None:
    """``model.predict_proba(X)`` computed tree by tree, or None to use scikit-learn's."""
    if not _plain_forest(model) or not isinstance(X, np.ndarray) or X.ndim != 2:
        return None
    if X.shape[1] != model.n_features_in_ or X.dtype.kind not in "biuf":
        return None
    X32 = np.ascontiguousarray(X, dtype=np.float32)
    if not np.isfinite(X32).all():
        return None
    cached = _cache(model)
    if X32.shape[0] * max(cached.depth, 1) <= SMALL:
        if cached.flat is None:
            cached.flat = _Flat(cached.trees, cached.depth)
        return cached.flat.predict_proba(X32)
    trees = cached.trees
    out = np.zeros((X32.shape[0], model.n_classes_), dtype=np.float64)
    for tree, proba in trees:
        out += proba[tree.apply(X32)]
    out /= len(trees)
    return out


def _cache(model: Any) -> _Cached:
    """*model*'s trees with their nodes' class probabilities, as
    ``DecisionTreeClassifier.predict_proba`` gives them (`_tree_normalises`); made again
    after a refit or a warm start that added trees."""
    cached = _cached.get(model)
    # A refit makes a new list; a warm start appends to the same one.
    if (
        cached is not None
        and cached.estimators is model.estimators_
        and len(cached.trees) == len(model.estimators_)
    ):
        return cached
    n_classes = model.n_classes_
    normalise = _tree_normalises()
    trees = []
    for estimator in model.estimators_:
        tree = estimator.tree_
        proba = np.array(tree.value[:, 0, :n_classes], dtype=np.float64)  # a copy
        if normalise:
            normalizer = proba.sum(axis=1)[:, np.newaxis]
            normalizer[normalizer == 0.0] = 1.0
            proba /= normalizer
        trees.append((tree, proba))
    made = _cached[model] = _Cached(model.estimators_, trees)
    return made


@functools.cache
def _tree_normalises() -> bool:
    """Whether this scikit-learn's ``DecisionTreeClassifier.predict_proba`` divides a
    leaf's values by their sum (older ones store counts and do; newer ones store
    fractions and give them as they are), seen on a one-leaf tree whose fractions do
    not add up to exactly 1 in floating point (0.1 + 0.2 + 0.7)."""
    from sklearn.tree import DecisionTreeClassifier

    tree = DecisionTreeClassifier().fit(np.zeros((3, 1)), [0, 1, 2], sample_weight=[1, 2, 7])
    return not np.array_equal(tree.predict_proba(np.zeros((1, 1)))[0], tree.tree_.value[0, 0])


def _plain_forest(model: Any) -> bool:
    forests, trees = _plain_types()
    if type(model) not in forests:
        return False
    if getattr(model, "n_outputs_", 2) != 1 or not isinstance(model.n_classes_, (int, np.integer)):
        return False
    return all(type(t) in trees for t in model.estimators_[:1])


@functools.cache
def _plain_types() -> tuple[tuple[type, ...], tuple[type, ...]]:
    """The forest classes walked here and the classes of their trees (imported once, not
    on every call)."""
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
    from sklearn.tree import DecisionTreeClassifier, ExtraTreeClassifier

    return (RandomForestClassifier, ExtraTreesClassifier), (
        DecisionTreeClassifier,
        ExtraTreeClassifier,
    )
