"""Settings guards, checked in a fresh interpreter as a deployment would start."""

import os
import subprocess
import sys

from django.conf import settings

from tradebot.settings import DEFAULT_SECRET_KEY


def start_django(**env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("TRADEBOT_TESTING", "DATABASE_URL", "REDIS_URL")}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=settings.BASE_DIR,
        env=environment | {"DJANGO_SETTINGS_MODULE": "tradebot.settings"} | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_with_debug_off_the_default_secret_key_refuses_to_start():
    started = start_django(DEBUG="off", SECRET_KEY=DEFAULT_SECRET_KEY)
    assert started.returncode != 0
    assert "Set SECRET_KEY" in started.stderr


REAL_KEYS = {"SECRET_KEY": "a-real-and-long-secret-key-for-this-test", "TRADEBOT_ENCRYPTION_KEY": "another-real-key"}


def test_real_keys_start_with_debug_off():
    assert start_django(DEBUG="off", **REAL_KEYS).returncode == 0


def test_with_debug_off_no_encryption_key_refuses_to_start_rather_than_use_the_secret_key():
    started = start_django(DEBUG="off", SECRET_KEY=REAL_KEYS["SECRET_KEY"], TRADEBOT_ENCRYPTION_KEY="")
    assert started.returncode != 0
    assert "Set TRADEBOT_ENCRYPTION_KEY" in started.stderr


def test_debug_on_starts_on_the_default_key_for_development():
    assert start_django(DEBUG="on", SECRET_KEY=DEFAULT_SECRET_KEY).returncode == 0
