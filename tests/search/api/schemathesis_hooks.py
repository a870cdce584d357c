"""Hooks of the Schemathesis run (test_schemathesis.py), loaded by its CLI through SCHEMATHESIS_HOOKS.

Path ids: the test's own objects (PATH_IDS_VARIABLE, JSON name → id, or → slug and bank name for the
HMA-compatible paths); random ids would only meet 404s. They are set before each call, where
Schemathesis revalidates the case, and only over ids of the right type (text ids: only over text the
schema's pattern takes), so a case made negative by a malformed id stays negative. A PUT or DELETE that
renamed or deleted the test's bank is undone after the call, through the API, so the operations after
it still find the bank.

HMA lookups: `signal` and `signal_type` are separate query parameters and the schema cannot tie the hash's
length to its type; a schema-valid case with a PDQ-long hash and `md5` (or the reverse) is sent with the
type that the hash's length names, as a client would.

File contents: a JSON schema says a file field is `format: binary`; it cannot say that the bytes must be a
picture, or a CSV. Schemathesis sends tiny sample files and random bytes, which the server rightly
refuses, and would report every upload as "schema-valid request rejected". The multipart serializer
therefore puts real content in such fields as the request is written: a PNG of at least the schema's
`x-image-min-side` in image fields, a well-formed CSV in the evaluation's. The case itself is not edited
(Schemathesis cannot validate binary bodies, so an edited one would count as negative); everything else in
the request (missing and unknown fields, wrong types, query parameters) is sent as generated."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from urllib.parse import quote

import numpy as np
import requests
import schemathesis
from PIL import Image
from schemathesis.core.parameters import ParameterLocation

# Internal in Schemathesis 4 (pinned in requirements/dev.txt): the public `schemathesis.serializer` would
# drop the multipart boundary from the Content-Type header.
from schemathesis.transport.requests import REQUESTS_TRANSPORT, multipart_serializer

PATH_IDS_VARIABLE = "SCHEMATHESIS_PATH_IDS"
# The patterns the schema gives the text path ids (search/hma/views.py: TEAM_SLUG, BANK_NAME).
TEXT_ID_PATTERNS = {"team_slug": r"[-a-zA-Z0-9_]+", "bank_name": r"[^/]+"}
HEX_LENGTH_TYPES = {64: "pdq", 32: "md5"}
MD5_TYPES = {"md5", "video_md5", "photo_md5", "hash_md5"}
CSV_FIELDS = {
    "ground_truth": b"query_id,reference_id\nquery,ref1\nother,\n",
    "edits": b"query_id,families,difficulty\nquery,crop|text,easy\n",
}


@schemathesis.hook
def before_call(context, case, kwargs) -> None:
    ids = _ids()
    for name, value in (case.path_parameters or {}).items():
        if name in ids and isinstance(value, int) and not isinstance(value, bool):
            case.path_parameters[name] = ids[name]
        elif name in TEXT_ID_PATTERNS and isinstance(value, str) and re.fullmatch(TEXT_ID_PATTERNS[name], value):
            case.path_parameters[name] = ids[name]
    _signal_type_of_length(case)


@schemathesis.hook
def after_call(context, case, response) -> None:
    bank = _ids().get("bank_name")
    params = case.path_parameters or {}
    if bank is None or params.get("bank_name") != bank or response.status_code != 200:
        return
    base = response.request.url.split("/hma/")[0] + f"/hma/{quote(params['team_slug'], safe='')}"
    auth = {"Authorization": response.request.headers["Authorization"]}
    if case.method.upper() == "PUT" and response.json().get("name") != bank:
        renamed = quote(response.json()["name"], safe="")
        requests.put(f"{base}/c/bank/{renamed}", json={"name": bank, "enabled": True}, headers=auth, timeout=60)
    elif case.method.upper() == "DELETE":
        requests.post(f"{base}/c/banks", json={"name": bank}, headers=auth, timeout=60)


def _ids() -> dict:
    return json.loads(os.environ.get(PATH_IDS_VARIABLE, "{}"))


def _signal_type_of_length(case) -> None:
    query = case.query
    if not isinstance(query, dict) or not case.operation.path.startswith("/hma/"):
        return
    if case.meta is not None and case.meta.is_negative_at(ParameterLocation.QUERY):
        return
    signal, kind = query.get("signal"), query.get("signal_type")
    if not isinstance(signal, str) or not isinstance(kind, str) or len(signal) not in HEX_LENGTH_TYPES:
        return
    if (len(signal) == 32) != (kind in MD5_TYPES):
        query["signal_type"] = HEX_LENGTH_TYPES[len(signal)]


@REQUESTS_TRANSPORT.serializer("multipart/form-data")
def multipart_with_real_files(ctx, value):
    return multipart_serializer(ctx, _real_files(ctx.case, value))


def _real_files(case, value):
    body = case.operation.get_body_for_media_type(case.media_type)
    if body is None or not isinstance(value, dict):
        return value
    properties = body.definition.get("schema", {}).get("properties", {})
    real = dict(value)
    for name, item in value.items():
        spec = properties.get(name, {})
        if "x-image-min-side" in spec.get("items", {}) and isinstance(item, list):
            side = spec["items"]["x-image-min-side"]
            real[name] = [_picture(part, side) if _is_file(part) else part for part in item]
        elif "x-image-min-side" in spec and _is_file(item):
            real[name] = _picture(item, spec["x-image-min-side"])
        elif name in CSV_FIELDS and spec.get("format") == "binary" and _is_file(item):
            real[name] = type(item)(CSV_FIELDS[name])
    return real


def _is_file(value) -> bool:
    return isinstance(getattr(value, "data", None), bytes)


def _picture(value, min_side: int):
    """A PNG drawn from the generated bytes (different bytes, different picture), `min_side` to 4× that."""
    digest = hashlib.sha256(value.data).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "big"))
    width, height = (int(side) for side in rng.integers(min_side, 4 * min_side + 1, size=2))
    pixels = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return type(value)(buffer.getvalue())
