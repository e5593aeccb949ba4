"""The OpenAPI description of the server's routes (served at ``/openapi.json``)."""

from __future__ import annotations

from typing import Any

from .. import __version__

_ERROR = {
    "description": "Error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
_ERRORS = {code: _ERROR for code in ("400", "401", "404", "413", "503")}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _get(summary: str, *params: str) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": [_path(p) for p in params],
            "responses": {"200": {"description": "OK"}, **_ERRORS},
        }
    }


def _post(summary: str, body: str, *params: str) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "parameters": [_path(p) for p in params],
            "requestBody": {"required": True, **_json({"$ref": f"#/components/schemas/{body}"})},
            "responses": {"200": {"description": "Predictions"}, **_ERRORS},
        }
    }


def _scoring(summary: str, *params: str) -> dict[str, Any]:
    """An MLflow scoring route: its errors take MLflow's shape (401 answers before routing)."""
    operation = _post(summary, "InvocationsRequest", *params)
    error = {"description": "Error", **_json({"$ref": "#/components/schemas/MlflowError"})}
    operation["post"]["responses"].update(
        {code: error for code in ("400", "404", "413", "415", "503")}
    )
    return operation


def _path(name: str) -> dict[str, Any]:
    schema = {"type": "string", "pattern": "^[0-9]+$"} if name == "version" else {"type": "string"}
    return {"name": name, "in": "path", "required": True, "schema": schema}


_ROWS = {"description": "Rows: lists of numbers, strings, or objects keyed by column"}

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]},
    "MlflowError": {
        "type": "object",
        "properties": {"error_code": {"type": "string"}, "message": {"type": "string"}},
        "required": ["error_code", "message"],
    },
    "InferenceRequest": {
        "type": "object",
        "required": ["inputs"],
        "properties": {
            "id": {"type": "string"},
            "parameters": {"type": "object"},
            "inputs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "shape", "datatype", "data"],
                    "properties": {
                        "name": {"type": "string"},
                        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                        "datatype": {
                            "type": "string",
                            "enum": [
                                "BOOL",
                                "UINT8",
                                "UINT16",
                                "UINT32",
                                "UINT64",
                                "INT8",
                                "INT16",
                                "INT32",
                                "INT64",
                                "FP16",
                                "FP32",
                                "FP64",
                                "BYTES",
                            ],
                        },
                        "parameters": {"type": "object"},
                        "data": {"type": "array"},
                    },
                },
            },
            "outputs": {
                "type": "array",
                "items": {"type": "object", "properties": {"name": {"type": "string"}}},
            },
        },
    },
    "PredictRequest": {
        "type": "object",
        "properties": {
            "instances": {"type": "array", **_ROWS},
            "inputs": _ROWS,
            "signature_name": {"type": "string"},
        },
    },
    "InvocationsRequest": {
        "type": "object",
        "properties": {
            "dataframe_split": {
                "type": "object",
                "properties": {
                    "columns": {"type": "array", "items": {"type": "string"}},
                    "data": {"type": "array"},
                },
            },
            "dataframe_records": {"type": "array", "items": {"type": "object"}},
            "instances": {"type": "array"},
            "inputs": {},
        },
    },
}


def spec() -> dict[str, Any]:
    paths = {
        "/v2": _get("Server metadata"),
        "/v2/health/live": _get("Liveness (no token needed)"),
        "/v2/health/ready": _get("Readiness: every deployment has a model loaded"),
        "/v2/models/{name}": _get("Model metadata", "name"),
        "/v2/models/{name}/ready": _get("Model readiness", "name"),
        "/v2/models/{name}/infer": _post(
            "Inference (Open Inference Protocol v2)", "InferenceRequest", "name"
        ),
        "/v2/models/{name}/versions/{version}": _get("Model version metadata", "name", "version"),
        "/v2/models/{name}/versions/{version}/ready": _get(
            "Model version readiness", "name", "version"
        ),
        "/v2/models/{name}/versions/{version}/infer": _post(
            "Inference on a version", "InferenceRequest", "name", "version"
        ),
        "/v1/models/{name}:predict": _post("TF Serving predict", "PredictRequest", "name"),
        "/v1/models/{name}/versions/{version}:predict": _post(
            "TF Serving predict on a version", "PredictRequest", "name", "version"
        ),
        "/v1/models/{name}/labels/{label}:predict": _post(
            "TF Serving predict on an alias", "PredictRequest", "name", "label"
        ),
        "/v1/models/{name}": _get("TF Serving model status", "name"),
        "/v1/models/{name}/metadata": _get("TF Serving model metadata", "name"),
        "/v1/models/{name}/versions/{version}": _get(
            "TF Serving version status", "name", "version"
        ),
        "/v1/models/{name}/versions/{version}/metadata": _get(
            "TF Serving version metadata", "name", "version"
        ),
        "/v1/models/{name}/labels/{label}": _get("TF Serving alias status", "name", "label"),
        "/v1/models/{name}/labels/{label}/metadata": _get(
            "TF Serving alias metadata", "name", "label"
        ),
        "/invocations": _scoring("MLflow scoring (exactly one deployment)"),
        "/models/{name}/invocations": _scoring("MLflow scoring", "name"),
        "/ping": _get("Liveness (no token needed)"),
        "/health": _get("Liveness (no token needed)"),
        "/version": _get("The server's version, as a bare string (MLflow's /version)"),
        "/metrics": _get("Prometheus metrics"),
        "/maas/deployments": _get("Deployments and their load status"),
        "/maas/reconcile": {
            "post": {
                "summary": "Reload the deployments table now",
                "responses": {"200": {"description": "OK"}},
            }
        },
        "/openapi.json": _get("This document"),
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "maas_nb model server", "version": __version__},
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": paths,
    }
