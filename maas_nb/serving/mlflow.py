"""MLflow's scoring server: ``/invocations``, ``/models/NAME/invocations``, ``/version``, ``/ping``.

Bodies are read as MLflow 2.x reads them: ``application/json`` (UTF-8 only) holding
exactly one of ``dataframe_split``, ``dataframe_records``, ``instances`` or ``inputs``,
or ``text/csv`` parsed by pandas with the header row naming the columns. ``params`` is
accepted and ignored, as MLflow does for a model whose signature has no params schema
(no maas_nb signature has one). Errors on the scoring routes take MLflow's shape,
``{"error_code": "BAD_REQUEST", "message": "..."}``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ..flavors.signature import DATAFRAME, TEXT, Signature
from ..version import __version__
from .decode import rows_from, split_frame
from .errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from .fastjson import FiniteJSONResponse
from .requests import parse_json, predict
from .rows import Rows, json_values, record_rows

#: The most CSV header columns read for a version without a signature to bound them by.
MAX_CSV_COLUMNS = 1024
FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
CONTENT_TYPE_CSV, CONTENT_TYPE_JSON = "text/csv", "application/json"

#: MLflow's ``error_code`` for each status it shares with us; other 4xx are BAD_REQUEST.
ERROR_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    404: "RESOURCE_DOES_NOT_EXIST",
    429: "REQUEST_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
    503: "TEMPORARILY_UNAVAILABLE",
}
_SCORING_PATH = re.compile(r"/invocations|/models/[^/]+/invocations")


def is_scoring_path(path: str) -> bool:
    """Whether *path* is an MLflow scoring route, whose errors take MLflow's shape."""
    return _SCORING_PATH.fullmatch(path) is not None


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """An error in MLflow's shape (without ``stack_trace``, which MLflow sends only sometimes)."""
    code = ERROR_CODES.get(status, "BAD_REQUEST" if status < 500 else "INTERNAL_ERROR")
    return JSONResponse(
        {"error_code": code, "message": message}, status_code=status, headers=headers
    )


def body_format(content_type: str | None) -> str:
    """``"json"`` or ``"csv"`` from a Content-Type header, or a 415 with MLflow's reason."""
    if content_type == CONTENT_TYPE_JSON:  # what nearly every client sends
        return "json"
    if not content_type:
        raise UnsupportedMediaType(_unsupported("no Content-Type"))
    mime, *rest = (part.strip() for part in content_type.split(";"))
    parameters = {}
    for part in filter(None, rest):
        key, _, value = part.partition("=")
        parameters[key.strip().lower()] = value.strip().strip('"')
    charset = parameters.pop("charset", "utf-8")
    if charset.lower() != "utf-8":
        raise UnsupportedMediaType(
            f"The scoring server only supports UTF-8; got charset={charset[:40]!r}. "
            "Send the body as UTF-8 (charset=utf-8, or no charset)."
        )
    if parameters:
        raise UnsupportedMediaType(
            f"Unrecognized content type parameters: {', '.join(sorted(parameters))[:120]}. "
            "Send 'Content-Type: application/json' or 'text/csv' with at most charset=utf-8; "
            "MLflow 1.x's format=pandas-split is a dataframe_split key in the JSON body since 2.0."
        )
    if mime.lower() == CONTENT_TYPE_JSON:
        return "json"
    if mime.lower() == CONTENT_TYPE_CSV:
        return "csv"
    raise UnsupportedMediaType(_unsupported(f"{content_type[:80]!r}"))


def _unsupported(got: str) -> str:
    return (
        "This predictor only supports the following content types: Types: "
        f"['{CONTENT_TYPE_CSV}', '{CONTENT_TYPE_JSON}']. Got {got}."
    )


def decode_json(body: bytes, signature: Signature | None, model: str) -> Rows:
    payload = parse_json(body)
    given = [k for k in FORMATS if k in payload]
    if len(given) != 1:
        raise BadRequest(
            f"Send exactly one of {', '.join(FORMATS)}; got {', '.join(given) or 'none of them'} "
            f"(keys: {', '.join(map(str, payload)) or 'none'})."
        )
    key = given[0]
    value = payload[key]
    if key == "dataframe_split":
        return split_frame(value, signature, model=model)
    if key == "dataframe_records" and signature is not None and signature.kind == DATAFRAME:
        return record_rows(value, signature, model=model, where=key)
    return rows_from(value, signature, model=model, where=key)


def decode_csv(body: bytes, signature: Signature | None, model: str, *, max_rows: int) -> Rows:
    """A CSV body read as MLflow reads it (pandas, header row), then as ``dataframe_split``.

    pandas takes seconds and hundreds of MiB for a header of 100k columns, so the header's
    columns and the body's lines are counted first and a body the model cannot take is
    refused before pandas sees it.
    """
    import io

    import pandas as pd

    check_csv_size(body, signature, model, max_rows=max_rows)

    # MLflow passes the signature's column types to read_csv; ours only need string
    # columns kept as text ("007" stays "007"), numbers are converted like JSON ones.
    text_columns: Any = None
    if signature is not None and signature.kind == TEXT:
        text_columns = str
    elif signature is not None and signature.kind == DATAFRAME:
        text_columns = {s.name: str for s in signature.inputs if s.dtype == "str"}
    try:
        frame = pd.read_csv(io.BytesIO(body), dtype=text_columns, encoding="utf-8")
    except Exception as exc:  # pandas raises many types; every one means an unreadable body
        raise BadRequest(
            "Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid "
            "CSV-formatted Pandas DataFrame produced using the `pandas.DataFrame.to_csv()` "
            f"method, with a header row. Error: '{str(exc)[:200]}'"
        ) from None
    check_csv_header([str(c) for c in frame.columns], signature, model)
    split = frame.to_dict(orient="split")
    return split_frame(
        {"columns": [str(c) for c in split["columns"]], "data": split["data"]},
        signature,
        model=model,
    )


def check_csv_header(columns: list[str], signature: Signature | None, model: str) -> None:
    """Refuse a CSV body whose first line is data: pandas would take it as the header and
    the model would silently get one row less (a text model's, or an array model's)."""
    if signature is not None and signature.kind == TEXT:
        name = signature.inputs[0].name
        if columns == [name]:
            return
        wanted = f"one column named {name!r}"
    elif signature is not None and signature.kind == DATAFRAME:
        return  # a missing column is named by the column check
    else:
        if not all(_is_number(c) for c in columns) or columns == [
            str(i) for i in range(len(columns))
        ]:
            return  # names, or pandas' default 0..n-1 for a frame without column names
        wanted = "a name for each column (any names: this model takes the columns in order)"
    if signature is not None:
        wanted += f"; model {model!r} expects {signature.describe_inputs()}"
    shown = ",".join(columns)
    raise BadRequest(
        f"The CSV body's first line ({shown[:80]!r}) is not a header row: MLflow's scoring "
        "protocol reads the first line of a CSV body as the column names, so that row of "
        f"data would be lost. Add a header row with {wanted} "
        "(DataFrame.to_csv(index=False) writes one)."
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def check_csv_size(body: bytes, signature: Signature | None, model: str, *, max_rows: int) -> None:
    """Refuse a CSV body with more header columns than *model* takes, or too many rows."""
    end = body.find(b"\n")
    header = body if end < 0 else body[:end]
    # Commas inside quoted names do not split columns: count only those between quotes.
    columns = sum(part.count(b",") for part in header.split(b'"')[::2]) + 1
    if signature is None:
        limit, takes = (
            MAX_CSV_COLUMNS,
            (
                f"this server reads at most {MAX_CSV_COLUMNS} for model {model!r}, which has no "
                "signature"
            ),
        )
    else:
        limit = signature.n_features
        takes = f"model {model!r} expects {signature.describe_inputs()}"
    if columns > limit:
        raise BadRequest(
            f"The CSV header has {columns} columns; {takes}. Send one column per model "
            "input, with a header row naming them (DataFrame.to_csv(index=False))."
        )
    rows = body.count(b"\n") - (1 if body.endswith(b"\n") else 0)  # lines after the header
    if rows > max_rows:
        raise PayloadTooLarge(
            f"The CSV body has {rows} lines after its header; model {model!r} takes at most "
            f"{max_rows} rows per request. Split it into smaller requests."
        )


DECODERS: dict[str, Callable[..., Rows]] = {
    "json": decode_json,
    "csv": decode_csv,
}


async def invocations(request: Request) -> Response:
    pool = request.app.state.pool
    name = request.path_params.get("name")
    slot = pool.slot(name) if name is not None else pool.only_slot()
    decode = DECODERS[body_format(request.headers.get("content-type"))]
    if decode is decode_csv:
        decode = functools.partial(decode_csv, max_rows=slot.ready().batcher.max_queue_rows)
    answer = await predict(slot, None, request, decode)
    name, first = next(iter(answer.outputs.items()))
    return FiniteJSONResponse(
        {"predictions": json_values(first, output=name)}, headers=answer.headers()
    )


async def ping(request: Request) -> Response:
    return Response("\n", media_type="text/plain")


async def version(request: Request) -> Response:
    """The server's version as a bare string, as MLflow's ``/version`` answers."""
    return PlainTextResponse(__version__)


routes = [
    Route("/invocations", invocations, methods=["POST"]),
    Route("/models/{name}/invocations", invocations, methods=["POST"]),
    Route("/ping", ping),
    Route("/health", ping),
    Route("/version", version),
]
