"""scikit-learn estimators and pipelines, stored with skops (no pickle).

What a skops artifact may contain is decided by `skops_audit` (read that module's
docstring for the trust model): this flavor audits at register and at every load, then
lets skops build exactly the audited names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..exceptions import ModelLoadError, ModelNotFittedError, UntrustedModelError
from .allowlist import canonical_name
from .base import EstimatorCalls, mro_modules
from .imports import require


class SklearnFlavor(EstimatorCalls):
    name = "sklearn"
    stores = "scikit-learn estimators and pipelines (with skops)"
    packages: tuple[str, ...] = ("scikit-learn", "skops")

    def owns(self, model: Any) -> bool:
        return "sklearn" in mro_modules(model)

    def check_fitted(self, model: Any) -> None:
        require("sklearn", "scikit-learn")
        from sklearn.exceptions import NotFittedError
        from sklearn.utils.validation import check_is_fitted

        try:
            check_is_fitted(model)
        except NotFittedError as exc:
            raise ModelNotFittedError(
                f"This {type(model).__name__} is not fitted yet: call fit() before registering it."
            ) from exc

    def save(self, model: Any) -> bytes:
        return require("skops.io", "skops").dumps(model)

    def required_types(self, data: bytes) -> list[str]:
        require("skops.io", "skops")
        from . import skops_audit  # on first use: importing maas_nb stays cheap

        return skops_audit.required_types(data)

    def check_trusted(self, data: bytes, *, name: str, trusted: Sequence[str]) -> list[str]:
        # The audit sees types, not values (a vectorizer reading files named in requests
        # is an allow-listed type): so build the artifact and check it as every load will.
        return self._load(data, uri=name, trusted=trusted)[1]

    def load(self, data: bytes, *, uri: str, trusted: Sequence[str], allow_pickle: bool) -> Any:
        return self._load(data, uri=uri, trusted=trusted)[0]

    def _load(self, data: bytes, *, uri: str, trusted: Sequence[str]) -> tuple[Any, list[str]]:
        """The model skops builds from *data* once its schema passed the audit and the
        model its value checks, and the names it needed beyond the built-in allow-list."""
        sio = require("skops.io", "skops")
        from . import skops_audit

        schema = skops_audit.read_schema(data)
        audited = skops_audit.audit(schema, uri=uri, approved=trusted)
        try:
            model = sio.loads(data, trusted=audited.names)
        except Exception as exc:
            raise ModelLoadError(f"skops failed to load model {uri!r}: {exc}") from exc
        _check_root(model, schema, uri)
        from .loaded_checks import check_loaded  # numpy: only once a model is loaded

        check_loaded(model, uri=uri)
        return model, audited.needs


def _check_root(model: Any, schema: dict[str, Any], uri: str) -> None:
    """The object skops built is of the class the audited root node names."""
    stored = f"{schema.get('__module__')}.{schema.get('__class__')}"
    built = canonical_name(type(model))
    if built != stored:
        raise UntrustedModelError(
            f"Model {uri!r} was stored as a {stored} but loading it built a {built}; "
            "maas_nb refuses it."
        )
