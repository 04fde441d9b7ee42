"""Secrets of a remote form link: the URL token, the short code, their hashes, the
form nonce and a bounded rate limiter.

The token (32 random bytes from :mod:`secrets`, 256 bits, URL-safe) is the only thing in
the link's address; the short code (8 characters from an alphabet without look-alikes:
no 0/O, 1/I/L) is what a client types on ``/kode`` when the link cannot be opened.
Only their SHA-256 hashes are stored, so neither can be recovered from the database.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict, deque

__all__ = [
    "CODE_ALPHABET",
    "CODE_LENGTH",
    "RateLimiter",
    "check_nonce",
    "form_nonce",
    "hash_secret",
    "new_code",
    "new_token",
    "normalise_code",
]

#: Upper-case letters and digits a reader cannot confuse (no 0, O, 1, I, L).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
#: Characters of a short code: 31**8, about 8.5e11 codes (39.6 bits), against at most
#: 10 tries a minute per address.
CODE_LENGTH = 8
#: Random bytes of a URL token (256 bits).
TOKEN_BYTES = 32


def new_token() -> str:
    """A fresh URL token: 43 URL-safe characters holding 256 random bits."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_code() -> str:
    """A fresh short code of :data:`CODE_LENGTH` characters of :data:`CODE_ALPHABET`."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(text: str) -> str:
    """A typed code as stored: upper case, without spaces or dashes (``"abcd-2345"``)."""
    return "".join(str(text or "").split()).replace("-", "").upper()


def hash_secret(secret: str) -> str:
    """SHA-256 of a token or code, hex (what the database keeps)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def form_nonce(key: bytes, token_hash: str, now: float | None = None) -> str:
    """A form nonce tied to the link: ``<issued>.<HMAC(key, token_hash|issued)>``.

    The POST must carry the nonce of a page served for the same token, so a form on
    another site cannot submit for the client (CSRF); ``key`` is the server's own secret.
    """
    issued = str(int(now if now is not None else time.time()))
    mac = hmac.new(key, f"{token_hash}|{issued}".encode(), hashlib.sha256).hexdigest()
    return f"{issued}.{mac}"


def check_nonce(
    key: bytes, token_hash: str, nonce: str, *, max_age: float = 7200.0, now: float | None = None
) -> bool:
    """Whether ``nonce`` was made by :func:`form_nonce` for this token within ``max_age`` s."""
    issued, _, mac = str(nonce or "").partition(".")
    if not issued.isdigit() or not mac:
        return False
    current = now if now is not None else time.time()
    if not 0 <= current - int(issued) <= max_age:
        return False
    expected = hmac.new(key, f"{token_hash}|{issued}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, mac)


class RateLimiter:
    """At most ``limit`` tries per key in a sliding ``window`` (seconds), in bounded memory.

    Keys are client addresses or token hashes. At most ``max_keys`` keys are kept; the
    least recently seen is forgotten first, so a flood of fresh keys cannot exhaust memory
    (it can only make the limiter forget old keys, each of which had fewer tries).
    """

    def __init__(self, limit: int, window: float = 60.0, *, max_keys: int = 10_000) -> None:
        self.limit = int(limit)
        self.window = float(window)
        self.max_keys = int(max_keys)
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, key: str, now: float | None = None) -> bool:
        """Count a try for ``key``; False if it is over the limit (the try is not counted)."""
        current = now if now is not None else time.monotonic()
        with self._lock:
            hits = self._hits.pop(key, None) or deque()
            while hits and current - hits[0] >= self.window:
                hits.popleft()
            allowed = len(hits) < self.limit
            if allowed:
                hits.append(current)
            self._hits[key] = hits
            while len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)
            return allowed

    def __len__(self) -> int:
        return len(self._hits)
