"""The `web` service's healthcheck: GET /healthz as a proxy would, exit 0 on HTTP 200.

The slim image has no curl. The Host header is taken from ALLOWED_HOSTS so a production
host list does not turn the check into a 400, and X-Forwarded-Proto says https so that
SECURE_SSL's redirect does not turn it into a 301.
"""

from __future__ import annotations

import os
import sys
import urllib.request


def check_host() -> str:
    hosts = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h.strip()]
    first = hosts[0] if hosts else "localhost"
    return "localhost" if first == "*" else first.lstrip(".")


def main() -> int:
    port = os.environ.get("WEB_BIND", "0.0.0.0:8000").rsplit(":", 1)[-1]
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/healthz",
        headers={"Host": check_host(), "X-Forwarded-Proto": "https"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"web unhealthy: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
