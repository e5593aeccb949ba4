"""Input/output signatures: what a model takes and returns, inferred from a sample."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..exceptions import SignatureError

#: The kinds of input a signature describes.
TENSOR, DATAFRAME, TEXT = "tensor", "dataframe", "text"

_SAMPLE_KINDS = (
    "a 2-D numpy array (rows x features), a pandas DataFrame with named columns, "
    "or a list of strings"
)


@dataclass(frozen=True)
class TensorSpec:
    """One named input or output: its dtype and shape (-1 marks the batch dimension)."""

    name: str
    dtype: str
    shape: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TensorSpec:
        return cls(d["name"], d["dtype"], tuple(d["shape"]))

    def __str__(self) -> str:
        dims = ", ".join("N" if s == -1 else str(s) for s in self.shape)
        return f"{self.name}: {self.dtype}[{dims}]"


@dataclass(frozen=True)
class Signature:
    """What a model takes (``inputs``) and returns (``outputs``).

    ``kind`` is ``"tensor"`` (one 2-D array), ``"dataframe"`` (one input per column)
    or ``"text"`` (one string per row).
    """

    kind: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    @property
    def n_features(self) -> int:
        if self.kind == TENSOR:
            return self.inputs[0].shape[1]
        return len(self.inputs)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.inputs) if self.kind == DATAFRAME else ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "inputs": [s.to_dict() for s in self.inputs],
            "outputs": [s.to_dict() for s in self.outputs],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Signature:
        return cls(
            d["kind"],
            tuple(TensorSpec.from_dict(s) for s in d["inputs"]),
            tuple(TensorSpec.from_dict(s) for s in d["outputs"]),
        )

    def describe_inputs(self) -> str:
        if self.kind == TENSOR:
            return f"{self.n_features} features of {self.inputs[0].dtype}"
        if self.kind == TEXT:
            return "a list of strings"
        return f"{len(self.inputs)} columns ({', '.join(self.columns)})"

    def __str__(self) -> str:
        ins = ", ".join(map(str, self.inputs))
        outs = ", ".join(map(str, self.outputs))
        return f"({ins}) -> ({outs})"

    def check(self, X: Any, *, model: str = "the model") -> None:
        """Raise `SignatureError` if *X* does not fit this signature's inputs."""
        if self.kind == TEXT:
            if not _is_text(X):
                raise SignatureError(
                    f"Model {model!r} expects a list of strings, but got {_describe(X)}."
                )
            return
        if self.kind == DATAFRAME and _is_dataframe(X):
            missing = [c for c in self.columns if c not in X.columns]
            if missing:
                raise SignatureError(
                    f"Input is missing column(s) {', '.join(map(repr, missing))}; model "
                    f"{model!r} expects {self.describe_inputs()}, got columns "
                    f"{', '.join(map(str, X.columns))}."
                )
            return
        if _is_text(X):
            raise SignatureError(
                f"Model {model!r} expects {self.describe_inputs()}, but got a list of strings."
            )
        import numpy as np

        try:
            shape = np.shape(X)
        except ValueError:  # ragged nested lists
            shape = ()
        if len(shape) != 2:
            raise SignatureError(
                f"Model {model!r} expects a 2-D input (rows x {self.n_features} features), "
                f"but got {_describe(X)}. Reshape a single row with X.reshape(1, -1)."
            )
        if shape[1] != self.n_features:
            raise SignatureError(
                f"X has {shape[1]} features, but model {model!r} expects {self.describe_inputs()}."
            )


def sample_kind(sample: Any) -> str:
    """Tell which kind of input *sample* is, or raise `SignatureError`."""
    if _is_dataframe(sample):
        return DATAFRAME
    if _is_text(sample):
        return TEXT
    import numpy as np

    try:
        array = np.asarray(sample)
    except (ValueError, TypeError) as exc:
        raise SignatureError(f"Expected {_SAMPLE_KINDS}, got {_describe(sample)}.") from exc
    if array.ndim == 2 and array.dtype.kind in "biuf" and array.shape[0] > 0:
        return TENSOR
    raise SignatureError(f"Expected {_SAMPLE_KINDS}, got {_describe(sample)}.")


def input_specs(sample: Any) -> tuple[str, tuple[TensorSpec, ...]]:
    """Return the kind and input specs that describe *sample*."""
    kind = sample_kind(sample)
    if kind == TEXT:
        return kind, (TensorSpec("text", "str", (-1,)),)
    if kind == DATAFRAME:
        return kind, tuple(
            TensorSpec(str(col), _dtype_name(dtype), (-1,)) for col, dtype in sample.dtypes.items()
        )
    import numpy as np

    array = np.asarray(sample)
    return kind, (TensorSpec("input", array.dtype.name, (-1, array.shape[1])),)


def output_specs(outputs: Mapping[str, Any]) -> tuple[TensorSpec, ...]:
    """Describe a flavor's named prediction outputs (arrays with a batch dimension)."""
    import numpy as np

    specs = []
    for name, value in outputs.items():
        array = np.asarray(value)
        dtype = "str" if array.dtype.kind in "OUS" else array.dtype.name
        specs.append(TensorSpec(name, dtype, (-1, *array.shape[1:])))
    return tuple(specs)


def infer_signature(sample: Any, outputs: Mapping[str, Any]) -> Signature:
    """Build a signature from an input sample and the model's outputs on it."""
    kind, inputs = input_specs(sample)
    return Signature(kind, inputs, output_specs(outputs))


def _is_dataframe(obj: Any) -> bool:
    return any(
        c.__name__ == "DataFrame" and c.__module__.partition(".")[0] == "pandas"
        for c in type(obj).__mro__
    )


def _is_text(obj: Any) -> bool:
    """A non-empty list, tuple or 1-D array whose items are all strings."""
    if isinstance(obj, (list, tuple)):
        return bool(obj) and all(isinstance(s, str) for s in obj)
    kind = getattr(getattr(obj, "dtype", None), "kind", None)
    if kind in ("O", "U", "S") and getattr(obj, "ndim", 0) == 1 and len(obj):
        return all(isinstance(s, str) for s in obj.tolist())
    return False


def _dtype_name(dtype: Any) -> str:
    return "str" if getattr(dtype, "kind", "O") in "OUS" else str(dtype)


def _describe(obj: Any) -> str:
    shape = getattr(obj, "shape", None)
    if shape is not None:
        return f"{type(obj).__name__} of shape {tuple(shape)}"
    if isinstance(obj, (list, tuple)):
        inner = sorted({type(o).__name__ for o in obj}) or ["nothing"]
        return f"a {type(obj).__name__} of {len(obj)} item(s) of type {', '.join(inner)}"
    return f"{type(obj).__name__}"
