"""The signal types a hash list may hold, the names other tools give them, and what a valid signal is.

- `pdq`: 64 hex digits (256 bits), as every PDQ tool writes it.
- `md5`: 32 hex digits, the MD5 of the file bytes. threatexchange 1.2.17 calls its file-MD5 type
  `video_md5` (older releases also had `photo_md5`); both read as `md5` here.
- `sscd`: an SSCD descriptor in the wire format of threatexchange's SSCD extension (its signal type
  is named `sscd`; `extensions/sscd/sscd_signal.py` in facebook/ThreatExchange, not in the 1.2.17
  wheel): a JSON array of the descriptor's floats (512 for sscd_disc_mixup). The length a bank
  accepts is the live model version's, passed in as `sscd_dimensions`.
"""

from __future__ import annotations

import json
import math
import re
from enum import StrEnum

import numpy as np


class SignalType(StrEnum):
    PDQ = "pdq"
    MD5 = "md5"
    SSCD = "sscd"


class SignalRejected(ValueError):
    """A signal text that is not valid for its type; the message says why, for a person to read."""


# Names written by threatexchange (signal type names, and the ThreatExchange API's indicator types)
# and by older releases, read as ours. Compared lower-cased.
SIGNAL_TYPE_ALIASES: dict[str, SignalType] = {
    "pdq": SignalType.PDQ,
    "hash_pdq": SignalType.PDQ,
    "md5": SignalType.MD5,
    "video_md5": SignalType.MD5,
    "photo_md5": SignalType.MD5,
    "hash_md5": SignalType.MD5,
    "sscd": SignalType.SSCD,
}
# The names threatexchange 1.2.17 knows, written into its own formats (local file, dataset CSV) so
# that its CLI and HMA read our exports.
THREATEXCHANGE_NAMES: dict[SignalType, str] = {
    SignalType.PDQ: "pdq",
    SignalType.MD5: "video_md5",
    SignalType.SSCD: "sscd",
}
OWN_NAMES: dict[SignalType, str] = {signal_type: signal_type.value for signal_type in SignalType}

# An SSCD signal longer than this is refused before it is parsed (4,096 floats written in full).
MAX_SSCD_TEXT = 4096 * 26
_HEX = re.compile(r"[0-9a-f]+")
_HEX_LENGTH = {SignalType.PDQ: 64, SignalType.MD5: 32}


def signal_type_of_name(name: str) -> SignalType:
    try:
        return SIGNAL_TYPE_ALIASES[name.strip().lower()]
    except KeyError:
        known = ", ".join(sorted(SIGNAL_TYPE_ALIASES))
        raise SignalRejected(f"unknown signal type {_shown(name)} (known: {known})") from None


def signal_type_guess(signal: str) -> SignalType | None:
    """The type a bare signal has by its shape (64 hex: PDQ, 32 hex: MD5, a JSON array: SSCD)."""
    text = signal.strip().lower()
    if text.startswith("["):
        return SignalType.SSCD
    if _HEX.fullmatch(text):
        return {64: SignalType.PDQ, 32: SignalType.MD5}.get(len(text))
    return None


def signal_normalise(signal_type: SignalType, signal: str, *, sscd_dimensions: int | None = None) -> str:
    """The canonical text of a signal (hex lower-cased, SSCD as compact JSON), or SignalRejected."""
    text = signal.strip()
    if signal_type is SignalType.SSCD:
        return sscd_signal_of(sscd_vector_of(text, dimensions=sscd_dimensions))
    text = text.lower()
    expected = _HEX_LENGTH[signal_type]
    if not text:
        raise SignalRejected(f"empty {signal_type} signal")
    if not _HEX.fullmatch(text):
        raise SignalRejected(f"{signal_type} must be {expected} hex digits, got {_shown(signal)}")
    if len(text) != expected:
        raise SignalRejected(f"{signal_type} must be {expected} hex digits, got {len(text)}")
    return text


def sscd_vector_of(signal: str, *, dimensions: int | None = None) -> np.ndarray:
    """float32 vector of an SSCD signal (a JSON array of finite numbers)."""
    if len(signal) > MAX_SSCD_TEXT:
        raise SignalRejected(f"sscd signal too long ({len(signal):,} characters)")
    try:
        values = json.loads(signal)
    except (json.JSONDecodeError, RecursionError):
        raise SignalRejected("sscd must be a JSON array of numbers") from None
    if not isinstance(values, list) or not values:
        raise SignalRejected("sscd must be a non-empty JSON array of numbers")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
        raise SignalRejected("sscd must hold finite numbers only")
    if dimensions is not None and len(values) != dimensions:
        raise SignalRejected(f"sscd must have {dimensions} values (the live model's), got {len(values)}")
    return np.asarray(values, dtype=np.float32)


def sscd_signal_of(vector: np.ndarray) -> str:
    """SSCD wire text of a vector: the shortest decimal that reads back as the same float32."""
    values = np.asarray(vector, dtype=np.float32).ravel()
    if not values.size or not np.isfinite(values).all():
        raise SignalRejected("an sscd vector must be non-empty and finite")
    return "[" + ",".join(np.format_float_positional(v, unique=True, trim="-") for v in values) + "]"


def _shown(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")
