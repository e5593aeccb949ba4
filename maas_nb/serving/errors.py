"""HTTP errors the server answers with: a status and one clear message, as ``{"error": ...}``."""

from __future__ import annotations


class HTTPError(Exception):
    """An error that becomes an HTTP response; never a 500."""

    status = 500

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class BadRequest(HTTPError):
    status = 400


class NotFound(HTTPError):
    status = 404


class PayloadTooLarge(HTTPError):
    status = 413


class UnsupportedMediaType(HTTPError):
    status = 415


class Unavailable(HTTPError):
    """The model is not ready, or its queue is full; the client should retry."""

    status = 503


class Conflict(HTTPError):
    """The request is well formed but the deployment's state does not allow it."""

    status = 409


class Unprocessable(HTTPError):
    """Valid JSON of the wrong shape."""

    status = 422
