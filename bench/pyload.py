#!/usr/bin/env python
"""A small load generator for when ``wrk`` is not installed: threads with keep-alive
connections for a fixed time. Reads its spec as JSON on stdin, prints figures as JSON.

Python spends more CPU per request than wrk, on the same two cores as the server, so
its figures are a lower bound; the README's figures come from wrk.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from urllib.parse import urlsplit


def _request(kind: str, token: str, day: str, tag: str, worker: int, n: int):
    headers = {"Authorization": f"Bearer {token}"}
    if kind == "get":
        return "GET", f"/api/queue/?date={day}", None, headers
    headers["Content-Type"] = "application/json"
    body = json.dumps(
        {
            "email": f"load.{tag}.{worker}.{n}@py.example",
            "first_name": "Py",
            "last_name": f"Load{n}",
            "phone": "+1 555 0100",
            "company": f"Load Test Co {n % 50}",
            "source": "web",
            "tags": ["webinar-2026"],
            "cadence": "Inbound demo request",
        }
    )
    return "POST", "/api/leads/", body, headers


def _worker(spec: dict, worker: int, deadline: float, out: list) -> None:
    host = urlsplit(spec["base"])
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=10)
    tokens, n = spec["tokens"], 0
    while time.perf_counter() < deadline:
        n += 1
        token, day = tokens[(worker + n) % len(tokens)]
        method, path, body, headers = _request(spec["kind"], token, day, spec["tag"], worker, n)
        started = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            ok = 200 <= response.status < 300
        except OSError:
            ok = False
            conn.close()
            conn = http.client.HTTPConnection(host.hostname, host.port, timeout=10)
        out.append((time.perf_counter() - started, ok))


def main() -> None:
    spec = json.load(sys.stdin)
    started = time.perf_counter()
    deadline = started + spec["seconds"]
    results: list[list] = [[] for _ in range(spec["connections"])]
    threads = [
        threading.Thread(target=_worker, args=(spec, i, deadline, results[i]))
        for i in range(spec["connections"])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    timings = sorted(seconds for part in results for seconds, _ in part)
    ok = sum(1 for part in results for _, good in part if good)
    p95 = timings[int(len(timings) * 0.95)] * 1000 if timings else 0.0
    figures = {"requests": len(timings), "ok": ok, "seconds": elapsed, "p95_ms": p95}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
