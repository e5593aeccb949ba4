"""Model classes that live outside scikit-learn, so skops does not trust them by default."""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


class ThresholdClassifier(ClassifierMixin, BaseEstimator):
    """Predicts 1 when the first feature exceeds the threshold learnt as its mean."""

    def fit(self, X, y=None):
        X = np.asarray(X)
        self.threshold_ = float(X[:, 0].mean())
        self.n_features_in_ = X.shape[1]
        self.classes_ = np.array([0, 1])
        return self

    def predict(self, X):
        return (np.asarray(X)[:, 0] > self.threshold_).astype(int)


class PlainPredictor:
    """Not an estimator of any known library: only pickle can store it."""

    def predict(self, X):
        return np.asarray(X).sum(axis=1)
