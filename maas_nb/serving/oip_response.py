"""An OIP inference response: the wanted outputs as JSON or binary tensors, and the
classification extension.

Classification follows Triton (``src/classification.cc``): for each row, the N highest
values of the output, highest first (ties: lower index first), each as the string
``"<value>:<index>"`` or ``"<value>:<index>:<label>"``, in a BYTES tensor of shape
[rows, N] (fewer if the row has fewer values). Values are printed as C++'s
``std::to_string`` prints them: ``%f`` for floats, plain digits for integers. The label is
the model's class for a ``probabilities`` column when the flavor knows its classes.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from .errors import BadRequest
from .oip_request import Request, Wanted, classification_refused
from .oip_tensors import datatype, to_binary
from .rows import json_values

#: The output whose columns are the model's classes, in ``classes_`` order.
PROBABILITIES = "probabilities"


def encode_outputs(
    request: Request,
    outputs: dict[str, np.ndarray],
    *,
    model_name: str,
    version: int,
    labels: tuple[str, ...] | None = None,
    request_id: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """The response body and its headers (a JSON body, or a header followed by blobs)."""
    response: dict[str, Any] = {
        "model_name": model_name,
        "model_version": str(version),
        "outputs": [],
    }
    if request_id is not None:  # the client's id, or one the server made
        response["id"] = request_id
    elif request.id is not None:
        response["id"] = request.id
    blobs = []
    for wanted in _wanted(request, outputs):
        value = outputs[wanted.name]
        if wanted.class_count:
            value = classify(
                value,
                wanted.class_count,
                name=wanted.name,
                labels=labels if wanted.name == PROBABILITIES else None,
            )
        kind = datatype("str" if value.dtype.kind in "OUS" else value.dtype.name)
        entry: dict[str, Any] = {"name": wanted.name, "datatype": kind, "shape": list(value.shape)}
        if wanted.binary:
            blob = to_binary(value, kind)
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            entry["data"] = json_values(value.reshape(-1), output=wanted.name)
        response["outputs"].append(entry)
    header = json.dumps(response).encode()
    if not blobs:
        return header, {"Content-Type": "application/json"}
    return header + b"".join(blobs), {
        "Content-Type": "application/octet-stream",
        "Inference-Header-Content-Length": str(len(header)),
    }


def _wanted(request: Request, outputs: dict[str, np.ndarray]) -> list[Wanted]:
    if request.outputs is None:
        return [Wanted(name, request.binary_default) for name in outputs]
    for wanted in request.outputs:  # checked before the model ran only if it has a signature
        if wanted.name not in outputs:
            raise BadRequest(
                f"Unknown output {wanted.name!r}; this model returns {', '.join(outputs)}."
            )
    return request.outputs


def classify(
    value: np.ndarray, count: int, *, name: str, labels: tuple[str, ...] | None
) -> np.ndarray:
    """The top *count* classes of each row of *value*, as Triton's classification strings."""
    if value.dtype.kind not in "iuf":
        dtype = "str" if value.dtype.kind in "OUS" else value.dtype.name
        raise BadRequest(classification_refused(name, dtype))
    rows = value.reshape(len(value), -1) if value.ndim else value.reshape(1, 1)
    width = rows.shape[1]
    k = min(count, width)
    # Stable descending order: sort the reversed row ascending, then map back.
    order = width - 1 - np.argsort(rows[:, ::-1], axis=1, kind="stable")[:, ::-1][:, :k]
    floats = value.dtype.kind == "f"
    out = np.empty((len(rows), k), dtype=object)
    for r, row in enumerate(rows):
        for c, index in enumerate(order[r].tolist()):
            number = row[index].item()
            text = f"{number:f}:{index}" if floats else f"{number}:{index}"
            if labels is not None and index < len(labels):
                text += f":{labels[index]}"
            out[r, c] = text
    return out
