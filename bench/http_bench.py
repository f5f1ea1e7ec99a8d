"""The HTTP API under load: gunicorn serving the run's database, load from a second
process on 127.0.0.1 (``wrk`` with a Lua script, else ``bench/pyload.py``)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.engine_bench import Context
from bench.harness import NOT_BUILT, Result, Target

ROOT = Path(__file__).resolve().parent.parent
# scripts/web.sh's defaults and variables: WEB_CONCURRENCY gthread workers of WEB_THREADS
# threads each (set them to compare sizes; WEB_THREADS=1 runs sync workers).
WORKERS = int(os.environ.get("WEB_CONCURRENCY") or 2)
THREADS = int(os.environ.get("WEB_THREADS") or 4)
WORKER_CLASS = "gthread" if THREADS > 1 else "sync"
CONNECTIONS = 8
TOKENS = 50  # the per-token rate limit (600/min) is never what stops the load


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def gunicorn(ctx: Context, log: Path) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": ctx.url, "DEBUG": "0",
           "ALLOWED_HOSTS": "127.0.0.1,localhost"}  # fmt: skip
    command = [
        str(Path(sys.executable).with_name("gunicorn")), "followup.wsgi:application",
        "--bind", f"127.0.0.1:{port}", "--worker-class", WORKER_CLASS, "--workers", str(WORKERS),
        "--threads", str(THREADS), "--error-logfile", str(log),
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, server)
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def _wait_ready(base: str, server: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("gunicorn did not answer /healthz in time")


def _api_paths() -> set[str]:
    try:
        from followup.api import api
    except ImportError:
        return set()
    return set(api.get_openapi_schema()["paths"])


def _tokens(ctx: Context) -> list[tuple[str, str]]:
    """(key, the rep's local date at NOW) for the first reps: one token each."""
    from django.contrib.auth import get_user_model

    from cadences.queues import rep_day
    from leads.services import api_token_create

    reps = get_user_model().objects.filter(groups__name="reps").select_related("rep_profile")
    made = []
    for rep in reps.order_by("id")[:TOKENS]:
        _, key = api_token_create(user=rep, name="bench")
        made.append((key, rep_day(rep, None, ctx.now).day.isoformat()))
    return made


def _size() -> str:
    return f"{WORKERS}x{THREADS} threads" if THREADS > 1 else f"{WORKERS} sync workers"


def api_load(ctx: Context) -> list[Result]:
    post = Result(
        f"POST /api/leads/ (new lead, enrolled), gunicorn {_size()}",
        unit="req/s",
        target=Target(100, "min", "≥ 100 req/s"),
    )
    get = Result(
        f"GET /api/queue/ (a rep's day), gunicorn {_size()}", unit="req/s",
        target=Target(200, "min", "≥ 200 req/s"),
    )  # fmt: skip
    paths = _api_paths()
    for result, path in ((post, "/api/leads/"), (get, "/api/queue/")):
        if path not in paths:
            result.status = NOT_BUILT
            result.notes.append(f"no {path} in the API yet")
    if post.status != "ok" and get.status != "ok":
        return [post, get]
    tokens = _tokens(ctx)
    # Reads first, then writes; a fresh server for each, so requests still queued from
    # one endpoint's run never count against the other's.
    for result, kind in ((get, "get"), (post, "post")):
        if result.status != "ok":
            continue
        _settle_writes()
        with tempfile.TemporaryDirectory(prefix="bench-http-") as folder:
            log = Path(folder) / "gunicorn.log"
            with gunicorn(ctx, log) as base:
                _load(ctx, result, kind, base, tokens, Path(folder))
            errors = [line for line in log.read_text().splitlines() if "Error" in line]
        if errors:
            result.notes.append(f"gunicorn log: {errors[-1][:150]}")
    return [post, get]


def _settle_writes() -> None:
    """CHECKPOINT before a load, so that it does not pay for writing back what the rows
    before it (or the previous load's leads) left dirty: measured, a checkpoint's
    write-back under a POST run held half the CPU time in I/O wait and cut the rate by a
    third. Needs a superuser (or pg_checkpoint); without, the load runs as it is."""
    from django.db import DatabaseError, connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
    except DatabaseError:
        pass


def _load(ctx, result, kind, base, tokens, folder) -> None:
    runs = []
    for i in range(1 + ctx.repetitions):  # the first run warms the workers up
        seconds = ctx.scale.http_seconds / 2 if i == 0 else ctx.scale.http_seconds
        figures = load_run(kind, base, tokens, seconds, folder, tag=f"{int(time.time())}{i}")
        if i:
            runs.append(figures)
            result.samples.append(figures["ok"] / figures["seconds"])
    if not any(run["requests"] for run in runs):
        result.notes.append("no request was answered within wrk's 10 s timeout")
    p95 = sorted(run["p95_ms"] for run in runs)[len(runs) // 2]
    failed = sum(run["requests"] - run["ok"] for run in runs)
    tool = runs[0]["tool"]
    result.notes.append(f"p95 {p95:.0f} ms; {CONNECTIONS} connections; {tool}")
    if failed:
        result.notes.append(f"{failed} non-2xx or failed requests")
        result.extra_checks.append(("no failed requests", False))


def load_run(kind, base, tokens, seconds, folder: Path, *, tag: str) -> dict:
    if shutil.which("wrk"):
        return _wrk(kind, base, tokens, seconds, folder, tag)
    return _pyload(kind, base, tokens, seconds, tag)


# --- wrk ----------------------------------------------------------------------------

LUA = """
local tokens = {%(tokens)s}
local days = {%(days)s}
local kind, tag = "%(kind)s", "%(tag)s"
local counter, next_id = 0, 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function request()
  counter = counter + 1
  local i = counter %% #tokens + 1
  local headers = {["Authorization"] = "Bearer " .. tokens[i]}
  if kind == "get" then
    return wrk.format("GET", "/api/queue/?date=" .. days[i], headers)
  end
  headers["Content-Type"] = "application/json"
  local email = "load." .. tag .. "." .. id .. "." .. counter .. "@wrk.example"
  local body = '{"email": "' .. email .. '", "first_name": "Wrk", "last_name": "Load' ..
    counter .. '", "phone": "+1 555 0100", "company": "Load Test Co ' .. (counter %% 50) .. '", ' ..
    '"source": "web", ' ..
    '"tags": ["webinar-2026"], "cadence": "Inbound demo request"}'
  return wrk.format("POST", "/api/leads/", headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nRESULT {"requests": %%d, "seconds": %%f, "failed": %%d, "p95_ms": %%f}\\n',
    summary.requests, summary.duration / 1e6,
    e.status + e.connect + e.read + e.write + e.timeout, latency:percentile(95) / 1000))
end
"""


def _wrk(kind, base, tokens, seconds, folder: Path, tag: str) -> dict:
    script = folder / f"{kind}.lua"
    script.write_text(
        LUA
        % {
            "tokens": ", ".join(f'"{key}"' for key, _ in tokens),
            "days": ", ".join(f'"{day}"' for _, day in tokens),
            "kind": kind,
            "tag": tag,
        }
    )
    duration = f"{max(1, round(seconds))}s"  # wrk takes whole seconds
    command = ["wrk", "-t", "2", "-c", str(CONNECTIONS), "-d", duration, "-s", str(script),
               "--timeout", "10s", base]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    figures = json.loads(line.removeprefix("RESULT "))
    figures["ok"] = figures["requests"] - figures["failed"]
    figures["tool"] = "wrk"
    return figures


def _pyload(kind, base, tokens, seconds, tag: str) -> dict:
    spec = json.dumps({"kind": kind, "base": base, "tokens": tokens, "seconds": seconds,
                       "connections": CONNECTIONS, "tag": tag})  # fmt: skip
    probe = ROOT / "bench" / "pyload.py"
    done = subprocess.run([sys.executable, str(probe)], input=spec, capture_output=True,
                          text=True, check=True)  # fmt: skip
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["tool"] = "bench/pyload.py (no wrk)"
    return figures
