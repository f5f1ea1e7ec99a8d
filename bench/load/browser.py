"""A minimal browser for the load run: one rep's cookies, forms and timed requests.

Standard library only (``http.client``), so the load generator adds no dependency
and costs little CPU beside the server it measures. Each request opens its own
connection: gunicorn's sync workers close every connection after one response.
"""

from __future__ import annotations

import http.client
import re
import threading
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass(frozen=True)
class Sample:
    """One request as the rep saw it; ``error`` is empty when nothing went wrong."""

    page: str
    method: str
    status: int
    ms: float
    at: float  # seconds since the run began
    rep: str
    error: str = ""


@dataclass
class Response:
    status: int
    location: str
    body: str

    def csrf_token(self) -> str:
        found = CSRF_FIELD.search(self.body)
        return found.group(1) if found else ""


@dataclass
class Recorder:
    """Every sample of every rep; appends come from many threads."""

    started: float = field(default_factory=time.monotonic)
    samples: list[Sample] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, sample: Sample) -> None:
        with self.lock:
            self.samples.append(sample)

    def now(self) -> float:
        return time.monotonic() - self.started


class RequestFailed(Exception):
    """The request did not get an answer (refused, reset, timed out)."""


class Browser:
    def __init__(self, base_url: str, *, rep: str, recorder: Recorder, timeout: float) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.rep, self.recorder, self.timeout = rep, recorder, timeout
        self.cookies: dict[str, str] = {}

    def copy(self) -> Browser:
        """A second tab with the same session: its own cookie jar from here on."""
        twin = Browser(
            f"http://{self.host}:{self.port}",
            rep=self.rep,
            recorder=self.recorder,
            timeout=self.timeout,
        )
        twin.cookies = dict(self.cookies)
        return twin

    def get(self, page: str, path: str) -> Response:
        return self._send(page, "GET", path, None)

    def post(self, page: str, path: str, form: dict[str, str]) -> Response:
        return self._send(page, "POST", path, urlencode(form))

    def _send(self, page: str, method: str, path: str, body: str | None) -> Response:
        at = self.recorder.now()
        began = time.perf_counter()
        try:
            response = self._exchange(method, path, body)
        except (OSError, http.client.HTTPException) as exc:
            ms = (time.perf_counter() - began) * 1000
            error = f"{type(exc).__name__}: {exc}"
            self.recorder.add(Sample(page, method, 0, ms, at, self.rep, error))
            raise RequestFailed(f"{method} {path}: {error}") from exc
        ms = (time.perf_counter() - began) * 1000
        self.recorder.add(Sample(page, method, response.status, ms, at, self.rep))
        return response

    def _exchange(self, method: str, path: str, body: str | None) -> Response:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            connection.request(method, path, body=body, headers=self._headers(body))
            raw = connection.getresponse()
            text = raw.read().decode("utf-8", "replace")
            self._keep_cookies(raw.headers.get_all("Set-Cookie") or [])
            return Response(raw.status, raw.headers.get("Location", ""), text)
        finally:
            connection.close()

    def _headers(self, body: str | None) -> dict[str, str]:
        headers = {"Host": f"{self.host}:{self.port}", "User-Agent": "followup-load/1"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        return headers

    def _keep_cookies(self, headers: list[str]) -> None:
        for header in headers:
            jar = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                # Django deletes a cookie by sending it empty with Max-Age=0.
                if morsel.value == "" or morsel["max-age"] == "0":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.coded_value  # sent back exactly as received


def path_of(location: str) -> str:
    """The path of a redirect's Location, absolute or relative."""
    parts = urlsplit(location)
    return parts.path + (f"?{parts.query}" if parts.query else "")
