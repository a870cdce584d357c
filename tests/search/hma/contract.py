"""HMA 2.0's documented request and response shapes, transcribed as JSON Schemas (the facts, not code):
facebook/ThreatExchange, hasher-matcher-actioner/src/OpenMediaMatch - schemas/shared.py (ErrorResponse:
`message`), schemas/curation.py (BankConfig: `name`, `matching_enabled_ratio`), schemas/matching.py
(MatchWithDistance: `bank_content_id` int, `distance` str; RawLookupResponse: `matches`), blueprints/
hashing.py (`POST /h/hash`: multipart field named after the content type, `photo`; answer: signal type
→ hash), blueprints/matching.py (`GET /m/lookup` with a signal: bank name → matches; `POST /m/lookup`:
signal type → bank name → matches), blueprints/curation.py (`POST /c/banks` 201, 403 when the bank
exists; `DELETE /c/bank/<name>` → `{"message": "Done"}`; `POST /c/bank/<name>/signal` → `{"id",
"signals"}`)."""

HEX64 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
HEX32 = {"type": "string", "pattern": "^[0-9a-f]{32}$"}

ERROR = {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}}

HASH = {
    "type": "object",
    "additionalProperties": {"type": "string"},
    "required": ["pdq"],
    "properties": {"pdq": HEX64, "md5": HEX32},
}

MATCH_WITH_DISTANCE = {
    "type": "object",
    "required": ["bank_content_id", "distance"],
    "additionalProperties": False,
    "properties": {"bank_content_id": {"type": "integer"}, "distance": {"type": "string"}},
}

RAW_LOOKUP_IDS = {
    "type": "object",
    "required": ["matches"],
    "properties": {"matches": {"type": "array", "items": {"type": "integer"}}},
}
RAW_LOOKUP_DISTANCES = {
    "type": "object",
    "required": ["matches"],
    "properties": {"matches": {"type": "array", "items": MATCH_WITH_DISTANCE}},
}

MATCHES_BY_BANK = {"type": "object", "additionalProperties": {"type": "array", "items": MATCH_WITH_DISTANCE}}
MATCHES_BY_SIGNAL_TYPE = {"type": "object", "additionalProperties": MATCHES_BY_BANK}

BANK_CONFIG = {
    "type": "object",
    "required": ["name", "matching_enabled_ratio"],
    "properties": {
        "name": {"type": "string"},
        "matching_enabled_ratio": {"type": "number", "minimum": 0, "maximum": 1},
    },
}
BANK_LIST = {"type": "array", "items": BANK_CONFIG}

SIGNALS_ADDED = {
    "type": "object",
    "required": ["id", "signals"],
    "properties": {
        "id": {"type": "integer"},
        "signals": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}

DONE = {"type": "object", "required": ["message"], "properties": {"message": {"const": "Done"}}}
