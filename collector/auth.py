"""Request authentication: API key from `Authorization: Bearer`, `x-loupe-api-key`, or Basic (password).

Lookups are cached briefly so a hot ingestion path does not query the store per request; revocations
made through this process clear the cache at once, others take effect within the TTL.
"""

from __future__ import annotations

import base64
import threading
import time

from fastapi import Request

from store.keys import ApiKey, KeyRepository

CACHE_TTL_S = 5.0


class AuthError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def secret_from_headers(request: Request, allow_basic: bool = False) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if allow_basic and scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
        # Langfuse path: the username (public key) is ignored, the password is the Loupe key.
        return decoded.partition(":")[2] or None
    return request.headers.get("x-loupe-api-key") or None


class Authenticator:
    def __init__(self, keys: KeyRepository) -> None:
        self.keys = keys
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def lookup(self, secret: str) -> ApiKey | None:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(secret)
        if hit and now - hit[0] < CACHE_TTL_S:
            return hit[1]
        key = self.keys.by_secret(secret)
        with self._lock:
            if len(self._cache) > 10_000:  # bounded: random bad keys must not grow memory
                self._cache.clear()
            self._cache[secret] = (now, key)
        return key

    def authenticate(self, request: Request, scope: str, allow_basic: bool = False) -> ApiKey:
        secret = secret_from_headers(request, allow_basic)
        if not secret:
            raise AuthError(401, "missing API key: send 'Authorization: Bearer <key>' or 'x-loupe-api-key'")
        key = self.lookup(secret)
        if key is None:
            raise AuthError(401, "invalid API key")
        if key.revoked_at is not None:
            raise AuthError(401, "API key has been revoked")
        if not key.allows(scope):
            raise AuthError(403, f"API key lacks the '{scope}' scope")
        return key
