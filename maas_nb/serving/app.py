"""The ASGI application: every protocol on one server, over one model pool."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..exceptions import MaasError
from ..registry import Registry
from . import live, mlflow, oip, tfserving, watch
from .errors import HTTPError, Unavailable
from .hotpath import ServingApp
from .openapi import spec
from .pool import ModelPool
from .prediction_log import PredictionLog
from .requests import DEFAULT_MAX_BODY, check_content_type
from .workers import WorkerGroup

log = logging.getLogger("maas_nb.serving")

#: Liveness answers without a token, so orchestrators can probe it.
PUBLIC_PATHS = frozenset({"/v2/health/live", "/ping", "/health"})


class TokenAuth:
    """Require ``Authorization: Bearer TOKEN`` on every route but liveness."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            return await self.app(scope, receive, send)
        provided = b""
        for key, value in scope["headers"]:
            if key == b"authorization":
                scheme, _, provided = value.partition(b" ")
                if scheme.lower() != b"bearer":
                    provided = b""
                break
        if not hmac.compare_digest(provided.strip(), self.token):
            response = JSONResponse(
                {"error": "Missing or wrong bearer token: send 'Authorization: Bearer <token>'."},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
            return await response(scope, receive, send)
        return await self.app(scope, receive, send)


class LoopbackHosts:
    """Answer only requests addressed to this machine (Host: 127.0.0.1, localhost, [::1]).

    A token-less server on 127.0.0.1 is reachable by any web page the user opens; a page
    on a rebound DNS name reaches it with a foreign Host header, which this refuses."""

    ALLOWED = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if name.lower() not in self.ALLOWED:
                response = JSONResponse(
                    {
                        "error": f"Host {host!r} is not served here: this server answers requests "
                        "to 127.0.0.1 or localhost only. Start it with a token (MAAS_TOKEN or "
                        "--token-file) to serve others."
                    },
                    status_code=400,
                )
                return await response(scope, receive, send)
        return await self.app(scope, receive, send)


def observed(
    handler: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """Count a prediction request, its latency and whether it failed, per deployment."""

    async def wrapper(request: Request) -> Response:
        start = time.perf_counter()
        error = True
        try:
            response = await handler(request)
            error = response.status_code >= 400
            return response
        finally:
            name = request.scope.get("maas.deployment")
            if name is not None:
                request.app.state.pool.metrics[name].observe_request(
                    time.perf_counter() - start, error=error
                )

    return wrapper


def error_response(
    request: Request, status: int, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    """``{"error": message}``, or MLflow's error shape on its scoring routes."""
    if mlflow.is_scoring_path(request.url.path):
        return mlflow.error_response(status, message, dict(headers or {}))
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPError)
    return error_response(request, exc.status, exc.message, exc.headers)


async def starlette_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = {
        404: f"No route {request.url.path!r}; see /openapi.json.",
        405: f"Method {request.method} is not allowed on {request.url.path!r}.",
    }.get(exc.status_code, str(exc.detail))
    return error_response(request, exc.status_code, message, exc.headers)


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error serving %s %s", request.method, request.url.path)
    return error_response(
        request, 500, f"Internal error: {type(exc).__name__}. See the server log."
    )


async def deployments(request: Request) -> JSONResponse:
    return JSONResponse(request.app.state.group.states())


async def server(request: Request) -> JSONResponse:
    """Who this server is: its name, the one deployments made for it record."""
    return JSONResponse({"name": request.app.state.pool.server})


async def reconcile(request: Request) -> JSONResponse:
    check_content_type(request)  # a web page must not make the server reload its models
    try:
        return JSONResponse(await request.app.state.group.reconcile())
    except MaasError as exc:  # the registry cannot be read now: the models serve on
        raise Unavailable(str(exc), headers={"Retry-After": "1"}) from exc


async def metrics(request: Request) -> PlainTextResponse:
    text = await request.app.state.group.metrics()
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")


async def workers(request: Request) -> JSONResponse:
    return JSONResponse(request.app.state.group.workers())


async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(spec())


def create_app(
    registry: Registry,
    *,
    name: str | None = None,
    token: str | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    poll_interval: float = 0.5,
    on_home_gone: Callable[[str], None] | None = None,
    group: WorkerGroup | None = None,
    deployment: str | None = None,
    settle: bool = False,
) -> ASGIApp:
    """The server's ASGI app for *registry*; loads what its deployments table names for
    the server called *name* (None: every deployment).

    *on_home_gone* is called (with the reason) if the registry's home is deleted; *group*
    is this process's place among the server's workers (default: the only one); with
    *deployment*, it serves that deployment only (a Ray Serve replica: `ray_app`); with
    *settle*, startup ends once the first loads have finished (or failed), so a replica
    that Ray Serve routes to as soon as it started has its model."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool = ModelPool(
            registry,
            server=name,
            poll_interval=poll_interval,
            on_home_gone=on_home_gone,
            deployment=deployment,
        )
        app.state.pool = pool
        app.state.group = group or WorkerGroup()
        predictions = PredictionLog(registry.home, pool.live_config("log")).start()
        pool.log_to(predictions)
        await pool.start()
        if settle:
            await pool.settle()
        await app.state.group.start(pool)
        guards = watch.Watcher(pool.slots, pool.window).start()
        try:
            yield
        finally:
            await guards.stop()
            await app.state.group.stop()
            await pool.stop()
            await asyncio.to_thread(predictions.close)

    predict_routes = {
        (mlflow.invocations, "POST"),
        (oip.infer, "POST"),
        (tfserving.predict_route, "POST"),
    }
    # The router tries routes in order: prediction routes go first, so the hot path does
    # not pay a path match for every metadata route. A GET on a predict path still falls
    # through to the route that takes GET.
    predicting, describing = [], []
    for route in [*oip.routes, *tfserving.routes, *mlflow.routes]:
        assert isinstance(route, Route)
        if any(route.endpoint is fn for fn, _ in predict_routes):
            predicting.append(Route(route.path, observed(route.endpoint), methods=route.methods))
        else:
            describing.append(route)
    # Those POSTs skip Starlette's middleware and router (see hotpath); the routes stay
    # in the router too, for a scope with a root_path.
    routes = [*predicting, *describing]
    routes += [
        Route("/maas/deployments", deployments),
        Route("/maas/reconcile", reconcile, methods=["POST"]),
        Route("/maas/server", server),
        Route("/maas/workers", workers),
        Route("/metrics", metrics),
        *live.routes,
        Route("/openapi.json", openapi),
    ]
    handlers = {HTTPError: http_error, HTTPException: starlette_error}
    app = ServingApp(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={**handlers, Exception: unexpected_error},
    )
    app.state.max_body = max_body
    app.predict_routes([(r, r.endpoint) for r in predicting], handlers, unexpected_error)
    return TokenAuth(app, token) if token else LoopbackHosts(app)
