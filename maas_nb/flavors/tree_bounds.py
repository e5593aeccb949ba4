"""Bounds checks on the trees inside a loaded scikit-learn model.

The allow-list trusts ``sklearn.tree._tree.Tree`` and the histogram-GBM
``TreePredictor`` (forests and boosted models are made of them), but a type check says
nothing about their content: their node arrays hold raw child and feature indices that
scikit-learn's compiled predict code follows without bounds checks, so a crafted
artifact could make a prediction read memory outside the arrays or crash the server.
skops therefore leaves both types untrusted by default. maas_nb trusts them and checks,
right after loading, that every index stays in range: each internal node's children
come after it and inside the array (so walking a tree always ends at a leaf), and each
split feature is a column the model's input has: the narrowest width of any estimator
around the tree, since a forest checks the input once and trusts its inner trees. A
histogram-GBM's bin mapper must describe exactly those features, its categorical splits
fall only on features it marks categorical, and its known categories fit a 256-bit set.
The neighbour search trees (KDTree, BallTree) get the same treatment: their sample
index is a permutation of the samples, each node's range and implicit children stay
inside the arrays, and their distance metric's weights are sized for the data.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import UntrustedModelError
from .object_graph import walk


def check_trees(model: Any, *, uri: str) -> None:
    """Raise `UntrustedModelError` if a tree in *model* has an index out of range."""
    from sklearn.ensemble._hist_gradient_boosting.gradient_boosting import (
        BaseHistGradientBoosting,
    )
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    from sklearn.neighbors import BallTree, KDTree
    from sklearn.tree._tree import Tree

    boosted = []
    for obj, widths in walk(model):
        if isinstance(obj, BaseHistGradientBoosting):
            boosted.append(obj)  # checked once its trees are known to be in range
        if not isinstance(obj, (Tree, TreePredictor, KDTree, BallTree)):
            continue
        # The narrowest enclosing estimator: an inner one's width is the artifact's word.
        n_features = min(widths) if widths else None
        if isinstance(obj, (KDTree, BallTree)):
            problem = _binary_tree_problem(*obj.get_arrays()) or _metric_problem(obj)
        elif n_features is None:
            problem = "no enclosing estimator says how many features its input has"
        elif isinstance(obj, TreePredictor):
            problem = _predictor_problem(obj, n_features)
        elif obj.n_features != widths[-1]:
            problem = f"it has {obj.n_features} features in an estimator of {widths[-1]}"
        else:
            problem = _nodes_problem(
                obj.children_left, obj.children_right, obj.feature, obj.node_count, n_features
            )
            if problem is None and obj.value.shape[0] != obj.node_count:
                problem = f"{obj.value.shape[0]} value rows for {obj.node_count} nodes"
        if problem is not None:
            raise UntrustedModelError(
                f"Model {uri!r} contains a {type(obj).__name__} whose nodes are out of range "
                f"({problem}); predicting with it could read outside its arrays, so maas_nb "
                "refuses it. The artifact is corrupted or crafted: register the model again."
            )
    for obj in boosted:
        _check_bin_mapper(obj, uri)


def _nodes_problem(
    left: np.ndarray, right: np.ndarray, feature: np.ndarray, count: int, n_features: int | None
) -> str | None:
    if not len(left) == len(right) == len(feature) == count or count < 1:
        return f"{len(left)} left, {len(right)} right and {len(feature)} features for {count}"
    index = np.arange(count)
    leaf = (left == -1) & (right == -1)
    inner = ~leaf
    for name, child in (("left", left), ("right", right)):
        wrong = inner & ((child <= index) | (child >= count))
        if wrong.any():
            at = int(np.flatnonzero(wrong)[0])
            return f"node {at} has {name} child {int(child[at])} of {count} nodes"
    limit = np.iinfo(np.int64).max if n_features is None else n_features
    wrong = inner & ((feature < 0) | (feature >= limit))
    if wrong.any():
        at = int(np.flatnonzero(wrong)[0])
        return f"node {at} splits on feature {int(feature[at])} of {n_features}"
    return None


def _predictor_problem(predictor: Any, n_features: int | None) -> str | None:
    nodes = predictor.nodes
    count = len(nodes)
    leaf = nodes["is_leaf"].astype(bool)
    left = np.where(leaf, -1, nodes["left"].astype(np.int64))
    right = np.where(leaf, -1, nodes["right"].astype(np.int64))
    problem = _nodes_problem(left, right, nodes["feature_idx"].astype(np.int64), count, n_features)
    if problem is not None:
        return problem
    categorical = ~leaf & nodes["is_categorical"].astype(bool)
    bitsets = min(len(predictor.raw_left_cat_bitsets), len(predictor.binned_left_cat_bitsets))
    wrong = categorical & (nodes["bitset_idx"].astype(np.int64) >= bitsets)
    if wrong.any():
        at = int(np.flatnonzero(wrong)[0])
        return f"node {at} uses category bitset {int(nodes['bitset_idx'][at])} of {bitsets}"
    return None


def _binary_tree_problem(
    data: np.ndarray, idx_array: np.ndarray, node_data: np.ndarray, node_bounds: np.ndarray
) -> str | None:
    n_samples, n_nodes = len(data), len(node_data)
    if len(idx_array) != n_samples or not np.array_equal(np.sort(idx_array), np.arange(n_samples)):
        return f"the sample index is not a permutation of the {n_samples} samples"
    if n_nodes < 1 or node_bounds.shape[1:] != (n_nodes, data.shape[1]):
        return f"bounds of shape {node_bounds.shape} for {n_nodes} nodes of {data.shape[1]}"
    start, end = node_data["idx_start"], node_data["idx_end"]
    wrong = (start < 0) | (start > end) | (end > n_samples)
    inner = node_data["is_leaf"] == 0
    # Children of node i are 2i+1 and 2i+2, implicitly.
    wrong |= inner & (2 * np.arange(n_nodes) + 2 >= n_nodes)
    if wrong.any():
        at = int(np.flatnonzero(wrong)[0])
        return f"node {at} covers samples {int(start[at])}..{int(end[at])} of {n_samples}"
    return None


def _check_bin_mapper(model: Any, uri: str) -> None:
    """Predicting maps each categorical split's feature through the bin mapper and sets
    one bit of a 256-bit set per known category: both must fit the model's features."""
    mapper, width = getattr(model, "_bin_mapper", None), getattr(model, "n_features_in_", None)
    if mapper is None or width is None:
        return  # not fitted: scikit-learn refuses to predict
    categorical = np.asarray(mapper.is_categorical_, dtype=bool)
    thresholds = mapper.bin_thresholds_
    problem = None
    if categorical.shape != (width,) or len(thresholds) != width:
        problem = (
            f"the bin mapper describes {categorical.size} and {len(thresholds)} features "
            f"for an input of {width}"
        )
    else:
        for f in np.flatnonzero(categorical):
            known = np.asarray(thresholds[f])
            if known.ndim != 1 or ((known < 0) | (known > 255) | (known != np.floor(known))).any():
                problem = f"feature {f} has known categories outside 0..255"
                break
        for predictors in model._predictors if problem is None else ():
            for predictor in predictors:
                nodes = predictor.nodes
                split = ~nodes["is_leaf"].astype(bool) & nodes["is_categorical"].astype(bool)
                features = nodes["feature_idx"][split].astype(np.int64)
                wrong = (features >= width) | ~categorical[np.clip(features, 0, width - 1)]
                if wrong.any():
                    problem = f"a categorical split on feature {int(features[wrong][0])}, "
                    problem += "which the bin mapper does not mark categorical"
    if problem is not None:
        raise UntrustedModelError(
            f"Model {uri!r} contains a {type(model).__name__} whose bins do not match its "
            f"trees ({problem}); predicting with it could read outside its arrays, so "
            "maas_nb refuses it. The artifact is corrupted or crafted: register the model "
            "again."
        )


#: Distance metrics that read a weight vector (length ``size``) or a matrix per feature.
_VECTOR_METRICS = ("SEuclideanDistance", "MinkowskiDistance", "WMinkowskiDistance")
_MATRIX_METRICS = ("MahalanobisDistance",)


def _metric_problem(tree: Any) -> str | None:
    from sklearn.metrics import DistanceMetric

    width = tree.data.shape[1]
    for metric in tree.__getstate__():
        if not isinstance(metric, DistanceMetric):
            continue
        kind = type(metric).__name__.rstrip("0123456789")
        _, vec, mat = metric.__getstate__()[:3]
        vec, mat = np.asarray(vec), np.asarray(mat)
        # Minkowski without weights has an empty vector, which it does not read.
        empty_ok = kind == "MinkowskiDistance" and vec.shape == (0,)
        if kind in _VECTOR_METRICS and vec.shape != (width,) and not empty_ok:
            return f"its {kind} weighs {vec.shape} features of {width}"
        if kind in _MATRIX_METRICS and mat.shape != (width, width):
            return f"its {kind} matrix has shape {mat.shape} for {width} features"
    return None
