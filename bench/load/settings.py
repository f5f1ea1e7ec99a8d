"""The project's settings, unchanged but for how static files are collected.

The load run serves with DEBUG off, so pages need a manifest from ``collectstatic``.
Each run collects into its own temporary folder (``LOAD_STATIC_ROOT``) rather than the
shared ``var/staticfiles``, which another server may be reading at the same moment,
and skips whitenoise's compression: the simulated reps fetch no static files (a
browser has them cached), and compressing them costs ten seconds of every run.
"""

from __future__ import annotations

import os
from pathlib import Path

from followup.settings import *  # noqa: F403 (the settings under test, whole)

STATIC_ROOT = Path(os.environ["LOAD_STATIC_ROOT"])
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
}
