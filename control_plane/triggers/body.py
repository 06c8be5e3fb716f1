"""A webhook's body: read with a size cap, parsed into the trigger's JSON payload.

The cap is enforced while reading (a declared Content-Length over the cap is refused before a
byte is read; a chunked body is cut off as soon as it passes the cap), so an oversized body
never sits in memory. JSON bodies become the payload as they are; form bodies
(`application/x-www-form-urlencoded`, `multipart/form-data` fields) become an object of
fields, a repeated field a list. An empty body is `{}`. JSON past the limits of
`control_plane.json_limits` (depth, integer range, NaN, invalid Unicode) is refused with 400."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header

from control_plane.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from control_plane.json_limits import JsonLimitError, loads_limited
from control_plane.request_limits import json_limit_error

JSON_TYPES = ("application/json",)
FORM_TYPE = "application/x-www-form-urlencoded"
MULTIPART_TYPE = "multipart/form-data"


async def read_capped_body(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def parse_payload(content_type_header: str | None, body: bytes) -> Any:
    media_type, options = _media_type(content_type_header)
    if not body.strip() and media_type != MULTIPART_TYPE:
        return {}
    if media_type in JSON_TYPES or media_type.endswith("+json") or not media_type:
        try:
            return loads_limited(body)
        except JsonLimitError as error:
            raise json_limit_error(error, "body") from None
        except json.JSONDecodeError as error:
            raise BadRequest(f"the body is not valid JSON: {error}") from error
    if media_type == FORM_TYPE:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise BadRequest("the form body is not UTF-8") from error
        return _fields(parse_qsl(text, keep_blank_values=True))
    if media_type == MULTIPART_TYPE:
        return _multipart_fields(body, options.get("boundary"))
    raise UnsupportedMediaType(
        f"unsupported Content-Type {media_type!r}: send application/json, "
        f"{FORM_TYPE} or {MULTIPART_TYPE}"
    )


def _media_type(header: str | None) -> tuple[str, dict[str, str]]:
    if not header:
        return "", {}
    raw_type, raw_options = parse_options_header(header)
    options = {
        (key.decode() if isinstance(key, bytes) else key): (
            value.decode() if isinstance(value, bytes) else value
        )
        for key, value in raw_options.items()
    }
    media_type = raw_type.decode() if isinstance(raw_type, bytes) else raw_type
    return media_type.lower(), options


def _fields(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, value in pairs:
        if name not in fields:
            fields[name] = value
        elif isinstance(fields[name], list):
            fields[name].append(value)
        else:
            fields[name] = [fields[name], value]
    return fields


def _multipart_fields(body: bytes, boundary: str | None) -> dict[str, Any]:
    """Text fields of a multipart form; file parts are refused (a trigger payload is JSON)."""
    if not boundary:
        raise BadRequest("multipart/form-data without a boundary")
    pairs: list[tuple[str, str]] = []
    state: dict[str, Any] = {"headers": {}, "name": None, "data": bytearray(), "field": b""}

    def on_part_begin() -> None:
        state["headers"], state["name"], state["data"] = {}, None, bytearray()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["field"] = data[start:end].lower()

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["headers"][state["field"]] = data[start:end]

    def on_part_data(data: bytes, start: int, end: int) -> None:
        state["data"].extend(data[start:end])

    def on_part_end() -> None:
        disposition = state["headers"].get(b"content-disposition", b"")
        _, params = parse_options_header(disposition)
        if b"filename" in params:
            raise BadRequest("file uploads are not accepted by webhooks; send fields or JSON")
        name = params.get(b"name", b"").decode("utf-8", errors="replace")
        try:
            pairs.append((name, bytes(state["data"]).decode("utf-8")))
        except UnicodeDecodeError as error:
            raise BadRequest(f"form field {name!r} is not UTF-8 text") from error

    parser = MultipartParser(
        boundary.encode(),
        callbacks={
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except BadRequest:
        raise
    except Exception as error:
        raise BadRequest(f"malformed multipart body: {error}") from error
    return _fields(pairs)


def _too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the webhook body is larger than the {max_bytes:,}-byte limit "
        "(setting FLOWPLANE_WEBHOOK_MAX_BODY_BYTES)"
    )
