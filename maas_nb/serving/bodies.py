"""JSON Schemas of the bodies each protocol exchanges, with examples, for ``/openapi.json``.

They follow each protocol's own reference: the Open Inference Protocol v2 (Triton's binary
tensor extension aside, which is raw bytes), TF Serving's REST API (rows, columns,
``{"b64": ...}``) and MLflow's scoring server. Request bodies are closed where the protocol
lists every key, so a generator builds requests a model can answer, and malformed ones by
negating them. The dialect is OpenAPI 3.0's.
"""

from __future__ import annotations

from typing import Any

from .oip_tensors import DATATYPES


def ref(name: str) -> dict[str, str]:
    """A reference to the component schema *name*."""
    return {"$ref": f"#/components/schemas/{name}"}


def array(items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "array", "items": items, **extra}


def obj(required: list[str], properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties, **extra}


def only(key: str, value: dict[str, Any], **others: Any) -> dict[str, Any]:
    """An object with exactly *key* (and optional *others*): one branch of a ``oneOf``."""
    return obj([key], {key: value, **others}, additionalProperties=False)


SCHEMAS: dict[str, Any] = {
    "Error": obj(
        ["error"], {"error": {"type": "string", "description": "What was wrong and what to do"}}
    ),
    # --- shared by TF Serving and MLflow: rows and columns of JSON values
    "Scalar": {"anyOf": [{"type": "number"}, {"type": "string"}, {"type": "boolean"}]},
    "Base64": only("b64", {"type": "string", "format": "byte"}),
    "Value": {
        "anyOf": [{"type": "number"}, {"type": "string"}, {"type": "boolean"}, ref("Base64")]
    },
    "Rows": {
        "description": "Rows of one kind: numbers (tensor models), texts, or records by column",
        "anyOf": [
            array({"type": "number"}, minItems=1),
            array(array({"type": "number"}, minItems=1), minItems=1),
            array({"anyOf": [{"type": "string"}, ref("Base64")]}, minItems=1),
            array(ref("Record"), minItems=1),
        ],
    },
    "Record": {
        "type": "object",
        "minProperties": 1,
        "additionalProperties": {"anyOf": [ref("Value"), array(ref("Value"))]},
    },
    "Columns": {
        "description": "Columns by name, each with one entry per row",
        "type": "object",
        "minProperties": 1,
        "additionalProperties": {
            "anyOf": [array(ref("Value"), minItems=1), array(array({"type": "number"}))]
        },
    },
    # --- Open Inference Protocol v2
    "RequestInput": obj(
        ["name", "shape", "datatype"],
        {
            "name": {"type": "string"},
            "shape": array({"type": "integer", "minimum": 0}, maxItems=8),
            "datatype": {"type": "string", "enum": list(DATATYPES)},
            "parameters": {  # binary_data_size: its bytes in the binary part, then no data
                "type": "object",
                "properties": {"binary_data_size": {"type": "integer", "minimum": 0}},
            },
            "data": array(
                {"anyOf": [ref("Scalar"), array(ref("Scalar"))]},
                description="Row-major values, flat or nested; BYTES as strings",
            ),
        },
        additionalProperties=False,
    ),
    "RequestOutput": obj(
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
    "InferenceRequest": obj(
        ["inputs"],
        {
            "id": {"type": "string"},
            "parameters": {
                "type": "object",
                "properties": {"binary_data_output": {"type": "boolean"}},
            },
            "inputs": array(ref("RequestInput"), minItems=1),
            "outputs": array(ref("RequestOutput")),
        },
        additionalProperties=False,
    ),
    "Tensor": obj(
        ["name", "datatype", "shape"],
        {
            "name": {"type": "string"},
            "datatype": {"type": "string", "enum": list(DATATYPES)},
            "shape": array({"type": "integer"}),
            "data": {"type": "array"},
            "parameters": {"type": "object"},
        },
    ),
    "InferenceResponse": obj(
        ["model_name", "outputs"],
        {
            "model_name": {"type": "string"},
            "model_version": {"type": "string"},
            "id": {"type": "string"},
            "outputs": array(ref("Tensor")),
        },
    ),
    "ModelMetadata": obj(
        ["name", "versions", "platform", "inputs", "outputs"],
        {
            "name": {"type": "string"},
            "versions": array({"type": "string"}),
            "platform": {"type": "string"},
            "inputs": array(ref("Tensor")),
            "outputs": array(ref("Tensor")),
        },
    ),
    "ModelReady": obj(
        ["name", "ready"], {"name": {"type": "string"}, "ready": {"type": "boolean"}}
    ),
    # --- TF Serving REST
    "PredictRequest": {
        "description": "Row format (instances) or columnar format (inputs)",
        "oneOf": [
            only("instances", ref("Rows"), signature_name={"type": "string"}),
            only(
                "inputs",
                {"anyOf": [ref("Rows"), ref("Columns")]},
                signature_name={"type": "string"},
            ),
        ],
    },
    "PredictResponse": {
        "description": "predictions (rows sent) or outputs (columns sent)",
        "type": "object",
        "properties": {"predictions": {"type": "array"}, "outputs": {}},
        "minProperties": 1,
    },
    "ModelStatus": obj(
        ["model_version_status"],
        {
            "model_version_status": array(
                obj(
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
            only(
                "dataframe_split",
                obj(
                    ["data"],
                    {
                        "columns": array({"type": "string"}),
                        "index": {"type": "array"},
                        "data": array(array(ref("Value"))),
                    },
                ),
                params={"type": "object"},
            ),
            only(
                "dataframe_records",
                array({"type": "object", "additionalProperties": ref("Value")}, minItems=1),
                params={"type": "object"},
            ),
            only("instances", ref("Rows"), params={"type": "object"}),
            only("inputs", {"anyOf": [ref("Rows"), ref("Columns")]}, params={"type": "object"}),
        ],
    },
    "Predictions": obj(["predictions"], {"predictions": {"type": "array"}}),
    "ScoringError": {
        "description": "MLflow's error shape; the token and Host checks answer as elsewhere",
        "anyOf": [
            obj(
                ["error_code", "message"],
                {"error_code": {"type": "string"}, "message": {"type": "string"}},
            ),
            ref("Error"),
        ],
    },
}

_IRIS = {"sl": 5.1, "sw": 3.5, "pl": 1.4, "pw": 0.2}
_ROW = list(_IRIS.values())
OIP_EXAMPLE = {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", "data": _ROW}]}
TF_EXAMPLES = {
    "rows": {"value": {"instances": [_ROW]}},
    "columns": {"value": {"inputs": {"input": [_ROW]}}},
    "text": {"value": {"instances": ["a wonderful film"]}},
    "base64": {"value": {"instances": [{"b64": "YSB3b25kZXJmdWwgZmlsbQ=="}]}},
}
MLFLOW_EXAMPLES = {
    "dataframe_split": {"value": {"dataframe_split": {"columns": list(_IRIS), "data": [_ROW]}}},
    "dataframe_records": {"value": {"dataframe_records": [_IRIS]}},
    "instances": {"value": {"instances": [_ROW]}},
    "inputs": {"value": {"inputs": [_ROW]}},
}
