"""The database's JSON codec: orjson where it gives the same values as the standard library,
the standard library where it does not.

SQLAlchemy serialises every JSON column value on write and parses it on read; with `json` that
is a large share of the recorder's CPU (two step inputs/outputs and the outputs per execution).
orjson writes compact UTF-8 (the stored text differs, the values do not) and refuses what it
cannot write exactly (integers past 64 bits, non-string keys, lone surrogates): those go to
`json.dumps`. On read, orjson refuses NaN and lone surrogate escapes and turns integers past
64 bits into floats, so text holding a run of 19 digits, or that orjson refuses, is parsed by
`json.loads`."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

LONG_DIGITS = re.compile(r"\d{19}")


def dumps(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(value)


def loads(text: str | bytes) -> Any:
    if not LONG_DIGITS.search(text if isinstance(text, str) else text.decode("utf-8", "replace")):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)
