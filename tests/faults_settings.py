"""Settings for the worker that the fault tests start: the project's own, shorter clocks.

A real ``qcluster`` runs with these (``DJANGO_SETTINGS_MODULE``), so a killed sender's
lease runs out in seconds, a stalled SMTP peer times out in a second instead of twenty,
and a refused email is retried a second later instead of a minute: the same code paths,
at test speed.
"""

from __future__ import annotations

import os

from followup.settings import *  # noqa: F403
from followup.settings import EMAIL_TIMEOUT, FOLLOWUP, Q_CLUSTER

_backoff = os.environ.get("FAULTS_RETRY_BACKOFF_SECONDS", "")
_retry_waits = [int(wait) for wait in _backoff.split(",")] if _backoff else None
FOLLOWUP = {
    **FOLLOWUP,
    "SEND_LEASE_SECONDS": int(
        os.environ.get("FAULTS_SEND_LEASE_SECONDS", FOLLOWUP["SEND_LEASE_SECONDS"])
    ),
    "SMTP_RETRY_BACKOFF_SECONDS": _retry_waits or FOLLOWUP["SMTP_RETRY_BACKOFF_SECONDS"],
}
EMAIL_TIMEOUT = float(os.environ.get("FAULTS_EMAIL_TIMEOUT", EMAIL_TIMEOUT))
# The broker is polled for queued tasks every 0.2 s (1 s in production): a queued tick
# starts sooner, so the twenty restarts of the SIGKILL test take less time.
Q_CLUSTER = {**Q_CLUSTER, "poll": 0.2}
