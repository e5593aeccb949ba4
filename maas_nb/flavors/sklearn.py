"""scikit-learn estimators and pipelines, stored with skops (no pickle)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..config import TRUSTED_TYPES_ENV, is_trusted
from ..exceptions import ModelLoadError, ModelNotFittedError, UntrustedModelError
from .base import EstimatorCalls, mro_modules
from .imports import require


class SklearnFlavor(EstimatorCalls):
    name = "sklearn"

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

    def check_trusted(self, data: bytes, *, name: str, trusted: Sequence[str]) -> None:
        refused = [t for t in self._skops_untrusted(data) if not is_trusted(t, trusted)]
        if refused:
            raise untrusted_error(name, refused)

    def _skops_untrusted(self, data: bytes) -> list[str]:
        sio = require("skops.io", "skops")
        try:
            return sio.get_untrusted_types(data=data)
        except Exception as exc:
            raise ModelLoadError(f"The artifact is not a readable skops file: {exc}") from exc

    def load(self, data: bytes, *, uri: str, trusted: Sequence[str], allow_pickle: bool) -> Any:
        found = self._skops_untrusted(data)
        refused = [t for t in found if not is_trusted(t, trusted)]
        if refused:
            raise untrusted_error(uri, refused)
        sio = require("skops.io", "skops")
        # What skops would refuse by itself has just been approved by our configuration;
        # the list comes from our patterns, never from the artifact alone.
        approved = [t for t in found if is_trusted(t, trusted)]
        try:
            return sio.loads(data, trusted=approved)
        except Exception as exc:
            raise ModelLoadError(f"skops failed to load model {uri!r}: {exc}") from exc


def untrusted_error(uri: str, types: Sequence[str]) -> UntrustedModelError:
    listed = ", ".join(types)
    as_list = ", ".join(repr(t) for t in types)
    return UntrustedModelError(
        f"Model {uri!r} contains types that maas_nb does not trust: {listed}. Loading "
        "untrusted types can run arbitrary code. If you trust their source, add them to "
        f"the {TRUSTED_TYPES_ENV} environment variable (comma-separated, wildcards "
        f"allowed) or pass trusted_types=[{as_list}]."
    )
