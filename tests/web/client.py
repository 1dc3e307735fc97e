"""A small client for the web service in tests: requests with the device's certificate pinned."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests


class WebClient:
    """One browser-like client: its own cookie jar; sends the CSRF token once logged in."""

    def __init__(self, url: str, certificate: Path | bool) -> None:
        self.url = url
        self.http = requests.Session()
        self.http.trust_env = False  # else $REQUESTS_CA_BUNDLE would replace the pinned certificate
        self.http.verify = str(certificate) if isinstance(certificate, Path) else certificate
        self.csrf: str | None = None

    def login(self, pin: str) -> requests.Response:
        response = self.post("/login", {"pin": pin})
        if response.status_code == 200:
            self.csrf = response.json()["csrf_token"]
        return response

    def request(self, method: str, path: str, body: Any = None, *, csrf: bool = True,
                headers: dict[str, str] | None = None, **kwargs: Any) -> requests.Response:  # fmt: skip
        sent = dict(headers or {})
        if csrf and self.csrf and method != "GET":
            sent.setdefault("X-CSRF-Token", self.csrf)
        if body is not None:
            kwargs["json"] = body
        return self.http.request(method, self.url + "/api/v1" + path, headers=sent, timeout=20, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, {} if body is None else body, **kwargs)

    def patch(self, path: str, body: Any, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)
