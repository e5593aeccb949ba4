"""The prediction routes' way through the app: straight to the endpoint, past Starlette's
middleware stack and router.

For a cheap model, the two middlewares, the router's walk over every route and the
per-request closures cost about as much as decoding, predicting and encoding together.
A POST whose path is a prediction route's (matched by the route's own regex, so its path
parameters are exactly the router's) is answered here: the endpoint is called with a
Starlette `Request` whose scope holds what the router would have put there, and an
exception becomes the response the app's own handlers make of it, as the middlewares
would. Every other request, and any scope with a ``root_path``, goes to Starlette.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]
Handler = Callable[[Request, Exception], Awaitable[Response]]


class ServingApp(Starlette):
    """A Starlette app that answers POSTs to its prediction routes itself (see the module).

    `predict_routes` names them, with the endpoint to call, once the app is built;
    *handlers* maps exception classes to the app's handlers (looked up along the
    exception's MRO, as Starlette does); *fallback* answers any other exception, which is
    then re-raised for the server to log, as Starlette's ServerErrorMiddleware does."""

    _fast: tuple[tuple[re.Pattern[str], Endpoint], ...] = ()

    def predict_routes(
        self,
        routes: list[tuple[Route, Endpoint]],
        handlers: Mapping[type[Exception], Handler],
        fallback: Handler,
    ) -> None:
        for route, _ in routes:
            if any(c.regex != "[^/]+" for c in route.param_convertors.values()):
                raise ValueError(f"{route.path}: only string path parameters are matched here")
        self._fast = tuple((route.path_regex, endpoint) for route, endpoint in routes)
        self._handlers = dict(handlers)
        self._fallback = fallback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            path = scope["path"]
            for regex, endpoint in self._fast:
                match = regex.match(path)
                if match is not None:
                    scope["app"], scope["router"] = self, self.router  # as Starlette sets them
                    scope["path_params"] = match.groupdict()
                    scope["endpoint"] = endpoint
                    return await self._answer(endpoint, scope, receive, send)
        await super().__call__(scope, receive, send)

    async def _answer(self, endpoint: Endpoint, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        try:
            response = await endpoint(request)
        except Exception as exc:
            handler = next(
                (self._handlers[c] for c in type(exc).__mro__ if c in self._handlers), None
            )
            if handler is None:
                await (await self._fallback(request, exc))(scope, receive, send)
                raise
            response = await handler(request, exc)
            exc.__traceback__ = None  # a reused exception would pile up tracebacks
        await response(scope, receive, send)
