"""The OpenAPI 3 description of every route the server has (served at ``/openapi.json``).

Each operation names its protocol's request body (schemas in `bodies`), the media types
it takes (Triton's binary extension as ``application/octet-stream``, MLflow's CSV), its
answers and errors, and whether it needs the token a server may have been started with.
"""

from __future__ import annotations

from typing import Any

from ..version import __version__
from .bodies import MLFLOW_EXAMPLES, OIP_EXAMPLE, SCHEMAS, TF_EXAMPLES, array, obj, ref

JSON = "application/json"
PUBLIC: list[dict[str, list[str]]] = []  # liveness needs no token
ERRORS = {
    "400": "Malformed request, or (without a token) a Host other than this machine",
    "401": "Missing or wrong bearer token (servers started with a token)",
    "404": "No such deployment, version or alias",
    "413": "Body larger than the server's --max-body",
    "409": "The deployment runs no experiment (one version, no shadow): no answers are kept",
    "415": "A Content-Type browsers send cross-site",
    "422": "Valid JSON of the wrong shape (the message says what and how to fix it)",
    "503": "The model is not loaded yet, or its queue is full (see Retry-After)",
}


FEEDBACK_EXAMPLE = {"feedback": [{"id": "4f1c2a", "truth": 1}]}


def _path(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "minLength": 1}
    if name == "version":
        schema = {"type": "string", "pattern": "^[0-9]+$", "description": "A version number"}
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _responses(ok: dict[str, Any], *errors: str, error_schema: str = "Error") -> dict[str, Any]:
    error = {"content": {JSON: {"schema": ref(error_schema)}}}
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


def _readiness(summary: str, *params: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A readiness probe: 200 when ready, 503 with the same body when not."""
    operation = _get(summary, *params, ok=_ok(schema))
    not_ready = {"description": "Not ready", "content": {JSON: {"schema": schema}}}
    operation["get"]["responses"]["503"] = not_ready
    return operation


def _post(
    summary: str, body: dict[str, Any], *params: str, ok: dict[str, Any], error: str = "Error"
) -> dict[str, Any]:
    codes = ("400", "401", "404", "413", "415", "503")
    return {
        "post": {
            "summary": summary,
            "parameters": [_path(p) for p in params],
            "requestBody": {"required": True, "content": body},
            "responses": _responses(ok, *codes, error_schema=error),
        }
    }


def _infer(summary: str, *params: str) -> dict[str, Any]:
    operation = _post(
        summary,
        {
            JSON: {"schema": ref("InferenceRequest"), "example": OIP_EXAMPLE},
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
                JSON: {"schema": ref("InferenceResponse")},
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
    body = {JSON: {"schema": ref("PredictRequest"), "examples": TF_EXAMPLES}}
    return _post(summary, body, *params, ok=_ok(ref("PredictResponse")))


def _invocations(summary: str, *params: str) -> dict[str, Any]:
    body = {
        JSON: {"schema": ref("InvocationsRequest"), "examples": MLFLOW_EXAMPLES},
        "text/csv": {
            "schema": {"type": "string", "description": "A header line of column names, then rows"},
            "example": "sl,sw,pl,pw\n5.1,3.5,1.4,0.2\n",
        },
    }
    return _post(summary, body, *params, ok=_ok(ref("Predictions")), error="ScoringError")


def paths() -> dict[str, Any]:
    """Every route, as ``{path: {method: operation}}``."""
    ready = obj(["ready"], {"ready": {"type": "boolean"}})
    return {
        "/v2": _get("Server metadata", ok=_ok({"type": "object"})),
        "/v2/health/live": _get(
            "Liveness", ok=_ok(obj(["live"], {"live": {"type": "boolean"}})), public=True
        ),
        "/v2/health/ready": _readiness(
            "Readiness: every deployment has a model loaded", schema=ready
        ),
        "/v2/models/{name}": _get("Model metadata", "name", ok=_ok(ref("ModelMetadata"))),
        "/v2/models/{name}/ready": _readiness("Model readiness", "name", schema=ref("ModelReady")),
        "/v2/models/{name}/infer": _infer("Inference (Open Inference Protocol v2)", "name"),
        "/v2/models/{name}/versions/{version}": _get(
            "Model version metadata", "name", "version", ok=_ok(ref("ModelMetadata"))
        ),
        "/v2/models/{name}/versions/{version}/ready": _readiness(
            "Model version readiness", "name", "version", schema=ref("ModelReady")
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
        "/v1/models/{name}": _get("TF Serving model status", "name", ok=_ok(ref("ModelStatus"))),
        "/v1/models/{name}/metadata": _get(
            "TF Serving model metadata (signature_def)", "name", ok=_ok({"type": "object"})
        ),
        "/v1/models/{name}/versions/{version}": _get(
            "TF Serving version status", "name", "version", ok=_ok(ref("ModelStatus"))
        ),
        "/v1/models/{name}/versions/{version}/metadata": _get(
            "TF Serving version metadata", "name", "version", ok=_ok({"type": "object"})
        ),
        "/v1/models/{name}/labels/{label}": _get(
            "TF Serving alias status", "name", "label", ok=_ok(ref("ModelStatus"))
        ),
        "/v1/models/{name}/labels/{label}/metadata": _get(
            "TF Serving alias metadata", "name", "label", ok=_ok({"type": "object"})
        ),
        "/invocations": _invocations("MLflow scoring (a server with exactly one deployment)"),
        "/models/{name}/invocations": _invocations("MLflow scoring", "name"),
        "/ping": _get("Liveness", ok=_ok({"type": "string"}, "text/plain"), public=True),
        "/health": _get("Liveness", ok=_ok({"type": "string"}, "text/plain"), public=True),
        "/version": _get(
            "The server's version (MLflow's /version)", ok=_ok({"type": "string"}, "text/plain")
        ),
        "/metrics": _get(
            "Prometheus metrics", ok=_ok({"type": "string"}, "text/plain; version=0.0.4")
        ),
        "/maas/deployments": _get(
            "Deployments and their load status", ok=_ok(array({"type": "object"}))
        ),
        "/maas/server": _get(
            "This server's name: deployments made for it record it",
            ok=_ok(
                {
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": {"type": "string", "nullable": True}},
                }
            ),
        ),
        "/maas/workers": _get(
            "The worker process answering (pid, index) and every worker of the server",
            ok=_ok(
                {
                    "type": "object",
                    "required": ["pid", "index", "workers"],
                    "properties": {
                        "pid": {"type": "integer"},
                        "index": {"type": "integer"},
                        "workers": array({"type": "object"}),
                    },
                }
            ),
        ),
        "/v2/models/{name}/feedback": {
            "post": {
                "summary": "Ground truth for request ids, joined to each version's answers",
                "parameters": [_path("name")],
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": {"type": "object"}, "example": FEEDBACK_EXAMPLE}},
                },
                "responses": _responses(
                    _ok({"type": "object", "required": ["joined", "unknown", "versions"]}),
                    *("400", "401", "404", "409", "413", "415", "422"),
                ),
            }
        },
        "/maas/experiments/{name}": _get(
            "The live comparison of a deployment's versions (see maas_nb.serving.experiment)",
            "name",
            ok=_ok({"type": "object", "required": ["deployment", "versions", "series"]}),
        ),
        "/maas/reconcile": {
            "post": {
                "summary": "Reload the deployments table now; answers the deployments",
                "responses": _responses(_ok(array({"type": "object"})), "400", "401"),
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
