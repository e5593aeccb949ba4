"""Any object with ``predict()``, stored with pickle: only when the user explicitly opts in."""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from typing import Any

from ..exceptions import ModelLoadError, ModelNotFittedError, UntrustedModelError
from .base import EstimatorCalls, mro_modules


class PickleFlavor(EstimatorCalls):
    name = "pickle"
    stores = ""  # never chosen implicitly: the refusal names allow_pickle=True itself
    packages: tuple[str, ...] = ()

    def owns(self, model: Any) -> bool:
        return False  # never chosen implicitly: only with allow_pickle=True

    def check_fitted(self, model: Any) -> None:
        if not callable(getattr(model, "predict", None)):
            raise ModelNotFittedError(
                f"A {type(model).__name__} has no predict() method, so it cannot be served."
            )
        if "sklearn" in mro_modules(model):
            from .sklearn import SklearnFlavor

            SklearnFlavor().check_fitted(model)

    def save(self, model: Any) -> bytes:
        return pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)

    def required_types(self, data: bytes) -> list[str]:
        return []  # pickle has no type list: allow_pickle=True gates it as a whole

    def check_trusted(self, data: bytes, *, name: str, trusted: Sequence[str]) -> list[str]:
        return []  # the user opted in with allow_pickle=True; loading asks again

    def load(self, data: bytes, *, uri: str, trusted: Sequence[str], allow_pickle: bool) -> Any:
        if not allow_pickle:
            raise UntrustedModelError(
                f"Model {uri!r} is stored as a pickle, and loading a pickle can run arbitrary "
                "code. If you trust where it came from, load it with allow_pickle=True."
            )
        try:
            return pickle.loads(data)  # noqa: S301 - the caller opted in above
        except Exception as exc:
            raise ModelLoadError(f"Unpickling model {uri!r} failed: {exc!r}") from exc
