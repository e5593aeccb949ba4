"""The OpenAPI 3 description of every route the server has (served at ``/openapi.json``).

Request bodies follow each protocol's own reference: the Open Inference Protocol v2 with
Triton's binary tensor extension, TF Serving's REST API (rows, columns, ``{"b64": ...}``)
and MLflow's scoring server. They are precise enough that a generator such as
schemathesis builds requests a model can answer, and malformed ones by negating them.
"""

from __future__ import annotations

from typing import Any

from .. import __version__
from .oip import DATATYPES

JSON = "application/json"
PUBLIC: list[dict[str, list[str]]] = []  # liveness needs no token
ERRORS = {
    "400": "Malformed request, or (without a token) a Host other than this machine",
    "401": "Missing or wrong bearer token (servers started with a token)",
    "404": "No such deployment, version or alias",
    "413": "Body larger than the server's --max-body",
    "415": "A Content-Type browsers send cross-site",
    "503": "The model is not loaded yet, or its queue is full (see Retry-After)",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _array(items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "array", "items": items, **extra}


def _object(required: list[str], properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties, **extra}


def _only(key: str, value: dict[str, Any], **others: Any) -> dict[str, Any]:
    """An object with exactly *key* (and optional *others*): one branch of a ``oneOf``."""
    return _object([key], {key: value, **others}, additionalProperties=False)


SCHEMAS: dict[str, Any] = {
    "Error": _object(
        ["error"], {"error": {"type": "string", "description": "What was wrong and what to do"}}
    ),
    # --- shared by TF Serving and MLflow: rows and columns of JSON values
    "Scalar": {"anyOf": [{"type": "number"}, {"type": "string"}, {"type": "boolean"}]},
    "Base64": _only("b64", {"type": "string", "format": "byte"}),
    "Value": {
        "anyOf": [{"type": "number"}, {"type": "string"}, {"type": "boolean"}, _ref("Base64")]
    },
    "Rows": {
        "description": "Rows of one kind: numbers (tensor models), texts, or records by column",
        "anyOf": [
            _array({"type": "number"}, minItems=1),
            _array(_array({"type": "number"}, minItems=1), minItems=1),
            _array({"anyOf": [{"type": "string"}, _ref("Base64")]}, minItems=1),
            _array(_ref("Record"), minItems=1),
        ],
    },
    "Record": {
        "type": "object",
        "minProperties": 1,
        "additionalProperties": {"anyOf": [_ref("Value"), _array(_ref("Value"))]},
    },
    "Columns": {
        "description": "Columns by name, each with one entry per row",
        "type": "object",
        "minProperties": 1,
        "additionalProperties": {
            "anyOf": [_array(_ref("Value"), minItems=1), _array(_array({"type": "number"}))]
        },
    },
    # --- Open Inference Protocol v2
    "RequestInput": _object(
        ["name", "shape", "datatype"],
        {
            "name": {"type": "string"},
            "shape": _array({"type": "integer", "minimum": 0}, maxItems=8),
            "datatype": {"type": "string", "enum": list(DATATYPES)},
            "parameters": {  # binary_data_size: its bytes in the binary part, then no data
                "type": "object",
                "properties": {"binary_data_size": {"type": "integer", "minimum": 0}},
            },
            "data": _array(
                {"anyOf": [_ref("Scalar"), _array(_ref("Scalar"))]},
                description="Row-major values, flat or nested; BYTES as strings",
            ),
        },
        additionalProperties=False,
    ),
    "RequestOutput": _object(
        ["name"],
        {
            "name": {"type": "string"},
            "parameters": {
                "type": "object",
                "properties": {
                    "binary_data": {"type": "boolean"},
                    "class_count": {"type": "integer", "minimum": 0},
                },
            },
        },
        additionalProperties=False,
    ),
    "InferenceRequest": _object(
        ["inputs"],
        {
            "id": {"type": "string"},
            "parameters": {
                "type": "object",
                "properties": {"binary_data_output": {"type": "boolean"}},
            },
            "inputs": _array(_ref("RequestInput"), minItems=1),
            "outputs": _array(_ref("RequestOutput")),
        },
        additionalProperties=False,
    ),
    "Tensor": _object(
        ["name", "datatype", "shape"],
        {
            "name": {"type": "string"},
            "datatype": {"type": "string", "enum": list(DATATYPES)},
            "shape": _array({"type": "integer"}),
            "data": {"type": "array"},
            "parameters": {"type": "object"},
        },
    ),
    "InferenceResponse": _object(
        ["model_name", "outputs"],
        {
            "model_name": {"type": "string"},
            "model_version": {"type": "string"},
            "id": {"type": "string"},
            "outputs": _array(_ref("Tensor")),
        },
    ),
    "ModelMetadata": _object(
        ["name", "versions", "platform", "inputs", "outputs"],
        {
            "name": {"type": "string"},
            "versions": _array({"type": "string"}),
            "platform": {"type": "string"},
            "inputs": _array(_ref("Tensor")),
            "outputs": _array(_ref("Tensor")),
        },
    ),
    "ModelReady": _object(
        ["name", "ready"], {"name": {"type": "string"}, "ready": {"type": "boolean"}}
    ),
    # --- TF Serving REST
    "PredictRequest": {
        "description": "Row format (instances) or columnar format (inputs)",
        "oneOf": [
            _only("instances", _ref("Rows"), signature_name={"type": "string"}),
            _only(
                "inputs",
                {"anyOf": [_ref("Rows"), _ref("Columns")]},
                signature_name={"type": "string"},
            ),
        ],
    },
    "PredictResponse": {
        "oneOf": [
            _object(["predictions"], {"predictions": {"type": "array"}}),
            _object(["outputs"], {"outputs": {}}),
        ]
    },
    "ModelStatus": _object(
        ["model_version_status"],
        {
            "model_version_status": _array(
                _object(
                    ["version", "state", "status"],
                    {
                        "version": {"type": "string"},
                        "state": {"type": "string", "enum": ["AVAILABLE", "LOADING", "END"]},
                        "status": {"type": "object"},
                    },
                )
            )
        },
    ),
    # --- MLflow scoring server
    "InvocationsRequest": {
        "description": "Exactly one of MLflow's four input formats, with optional params",
        "oneOf": [
            _only(
                "dataframe_split",
                _object(
                    ["data"],
                    {
                        "columns": _array({"type": "string"}),
                        "index": {"type": "array"},
                        "data": _array(_array(_ref("Value"))),
                    },
                ),
                params={"type": "object"},
            ),
            _only(
                "dataframe_records",
                _array({"type": "object", "additionalProperties": _ref("Value")}, minItems=1),
                params={"type": "object"},
            ),
            _only("instances", _ref("Rows"), params={"type": "object"}),
            _only("inputs", {"anyOf": [_ref("Rows"), _ref("Columns")]}, params={"type": "object"}),
        ],
    },
    "Predictions": _object(["predictions"], {"predictions": {"type": "array"}}),
}

_IRIS_ROW = [5.1, 3.5, 1.4, 0.2]
OIP_EXAMPLE = {
    "inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", "data": _IRIS_ROW}]
}
TF_EXAMPLES = {
    "rows": {"value": {"instances": [_IRIS_ROW]}},
    "columns": {"value": {"inputs": {"input": [_IRIS_ROW]}}},
    "text": {"value": {"instances": ["a wonderful film"]}},
    "base64": {"value": {"instances": [{"b64": "YSB3b25kZXJmdWwgZmlsbQ=="}]}},
}
MLFLOW_EXAMPLES = {
    "dataframe_split": {
        "value": {"dataframe_split": {"columns": ["sl", "sw", "pl", "pw"], "data": [_IRIS_ROW]}}
    },
    "dataframe_records": {
        "value": {
            "dataframe_records": [dict(zip(["sl", "sw", "pl", "pw"], _IRIS_ROW, strict=True))]
        }
    },
    "instances": {"value": {"instances": [_IRIS_ROW]}},
    "inputs": {"value": {"inputs": [_IRIS_ROW]}},
}


def _path(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "minLength": 1}
    if name == "version":
        schema = {"type": "string", "pattern": "^[0-9]+$", "description": "A version number"}
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _responses(ok: dict[str, Any], *errors: str) -> dict[str, Any]:
    error = {"content": {JSON: {"schema": _ref("Error")}}}
    return {"200": ok, **{code: {"description": ERRORS[code], **error} for code in errors}}


def _ok(schema: dict[str, Any] | None = None, media: str = JSON) -> dict[str, Any]:
    content = {"content": {media: {"schema": schema}}} if schema is not None else {}
    return {"description": "OK", **content}


def _get(
    summary: str, *params: str, ok: dict[str, Any] | None = None, public: bool = False
) -> dict[str, Any]:
    errors = ("400",) if public else ("400", "401", "404", "503") if params else ("400", "401")
    operation: dict[str, Any] = {
        "summary": summary,
        "parameters": [_path(p) for p in params],
        "responses": _responses(ok or _ok(), *errors),
    }
    if public:
        operation["security"] = PUBLIC
    return {"get": operation}


def _post(summary: str, body: dict[str, Any], *params: str, ok: dict[str, Any]) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "parameters": [_path(p) for p in params],
            "requestBody": {"required": True, "content": body},
            "responses": _responses(ok, "400", "401", "404", "413", "415", "503"),
        }
    }


def _infer(summary: str, *params: str) -> dict[str, Any]:
    operation = _post(
        summary,
        {
            JSON: {"schema": _ref("InferenceRequest"), "example": OIP_EXAMPLE},
            "application/octet-stream": {
                "schema": {
                    "type": "string",
                    "format": "binary",
                    "description": "Triton's binary tensor extension: the JSON inference "
                    "header, then the raw tensors; send Inference-Header-Content-Length",
                }
            },
        },
        *params,
        ok={
            "description": "Outputs; with binary outputs, the JSON header and then raw bytes",
            "content": {
                JSON: {"schema": _ref("InferenceResponse")},
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            },
        },
    )
    operation["post"]["parameters"].append(
        {
            "name": "Inference-Header-Content-Length",
            "in": "header",
            "required": False,
            "description": "Length of the JSON header before the binary tensors",
            "schema": {"type": "integer", "minimum": 0},
        }
    )
    return operation


def _predict(summary: str, *params: str) -> dict[str, Any]:
    body = {JSON: {"schema": _ref("PredictRequest"), "examples": TF_EXAMPLES}}
    return _post(summary, body, *params, ok=_ok(_ref("PredictResponse")))


def _invocations(summary: str, *params: str) -> dict[str, Any]:
    body = {
        JSON: {"schema": _ref("InvocationsRequest"), "examples": MLFLOW_EXAMPLES},
        "text/csv": {
            "schema": {"type": "string", "description": "A header line of column names, then rows"},
            "example": "sl,sw,pl,pw\n5.1,3.5,1.4,0.2\n",
        },
    }
    return _post(summary, body, *params, ok=_ok(_ref("Predictions")))


def paths() -> dict[str, Any]:
    """Every route, as ``{path: {method: operation}}``."""
    ready = _ok(_object(["ready"], {"ready": {"type": "boolean"}}))
    return {
        "/v2": _get("Server metadata", ok=_ok({"type": "object"})),
        "/v2/health/live": _get(
            "Liveness", ok=_ok(_object(["live"], {"live": {"type": "boolean"}})), public=True
        ),
        "/v2/health/ready": _get("Readiness: every deployment has a model loaded", ok=ready),
        "/v2/models/{name}": _get("Model metadata", "name", ok=_ok(_ref("ModelMetadata"))),
        "/v2/models/{name}/ready": _get("Model readiness", "name", ok=_ok(_ref("ModelReady"))),
        "/v2/models/{name}/infer": _infer("Inference (Open Inference Protocol v2)", "name"),
        "/v2/models/{name}/versions/{version}": _get(
            "Model version metadata", "name", "version", ok=_ok(_ref("ModelMetadata"))
        ),
        "/v2/models/{name}/versions/{version}/ready": _get(
            "Model version readiness", "name", "version", ok=_ok(_ref("ModelReady"))
        ),
        "/v2/models/{name}/versions/{version}/infer": _infer(
            "Inference on a version", "name", "version"
        ),
        "/v1/models/{name}:predict": _predict("TF Serving predict", "name"),
        "/v1/models/{name}/versions/{version}:predict": _predict(
            "TF Serving predict on a version", "name", "version"
        ),
        "/v1/models/{name}/labels/{label}:predict": _predict(
            "TF Serving predict on an alias", "name", "label"
        ),
        "/v1/models/{name}": _get("TF Serving model status", "name", ok=_ok(_ref("ModelStatus"))),
        "/v1/models/{name}/metadata": _get(
            "TF Serving model metadata (signature_def)", "name", ok=_ok({"type": "object"})
        ),
        "/invocations": _invocations("MLflow scoring (a server with exactly one deployment)"),
        "/models/{name}/invocations": _invocations("MLflow scoring", "name"),
        "/ping": _get("Liveness", ok=_ok({"type": "string"}, "text/plain"), public=True),
        "/health": _get("Liveness", ok=_ok({"type": "string"}, "text/plain"), public=True),
        "/metrics": _get(
            "Prometheus metrics", ok=_ok({"type": "string"}, "text/plain; version=0.0.4")
        ),
        "/maas/deployments": _get(
            "Deployments and their load status", ok=_ok(_array({"type": "object"}))
        ),
        "/maas/reconcile": {
            "post": {
                "summary": "Reload the deployments table now; answers the deployments",
                "responses": _responses(_ok(_array({"type": "object"})), "400", "401"),
            }
        },
        "/openapi.json": _get("This document", ok=_ok({"type": "object"})),
    }


def spec() -> dict[str, Any]:
    """The OpenAPI 3.0 document; a token is needed everywhere but liveness if the server has one."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "maas_nb model server", "version": __version__},
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}, {}],
        "paths": paths(),
    }
