"""A small HTTP client of the read API. The key travels in a header only; it is never logged or shown.

`api()` gives one shared client per server URL (st.cache_resource); `get()` caches responses for a
short time (st.cache_data), keyed by a hash of the key so two projects' answers never mix.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import httpx
import streamlit as st

DEFAULT_URL = "http://127.0.0.1:4318"
TTL_S = 30


class ApiError(Exception):
    """The API refused or failed; `message` is safe to show (it never contains the key)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def server_url() -> str:
    return os.environ.get("LOUPE_URL", DEFAULT_URL).rstrip("/")


@st.cache_resource
def api(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=httpx.Timeout(60, connect=5))


def _fingerprint(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _request(method: str, path: str, key: str, params: dict | None = None, json: Any = None) -> httpx.Response:
    try:
        response = api(server_url()).request(method, path, params=params, json=json,
                                             headers={"Authorization": f"Bearer {key}"})
    except httpx.HTTPError as exc:
        raise ApiError(0, f"cannot reach the Loupe server at {server_url()} ({type(exc).__name__}); "
                          "is `loupe serve` running?") from None
    if response.status_code >= 400:
        try:
            body = response.json()
            detail = body.get("detail") or body.get("error")
        except ValueError:
            detail = response.text[:300]
        raise ApiError(response.status_code, detail if isinstance(detail, str) else str(detail))
    return response


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=500)
def _cached(path: str, params: tuple, key_hash: str, _key: str) -> Any:
    return _request("GET", path, _key, dict(params)).json()


def _params(params: dict | None) -> tuple:
    items = []
    for k, v in (params or {}).items():
        if v in (None, "", []):
            continue
        items += [(k, x) for x in v] if isinstance(v, list | tuple) else [(k, v)]
    return tuple(sorted(items, key=lambda kv: (kv[0], str(kv[1]))))


def get(path: str, key: str, params: dict | None = None, cache: bool = True) -> Any:
    """GET a read endpoint as JSON (cached for TTL_S seconds unless `cache=False`)."""
    p = _params(params)
    if not cache:
        response = _request("GET", path, key, list(p))
        return None if response.status_code == 204 else response.json()
    return _cached(path, p, _fingerprint(key), key)


def post(path: str, key: str, body: dict) -> Any:
    return _request("POST", path, key, json=body).json()


def text(path: str, key: str, params: dict | None = None) -> str:
    """A non-JSON body (exports), uncached."""
    return _request("GET", path, key, list(_params(params))).text


def whoami(key: str) -> dict:
    """The key's project, name and scopes, checked by the API (never cached: revocations apply at once)."""
    return _request("GET", "/api/projects/current", key).json()
