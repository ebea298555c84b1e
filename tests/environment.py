"""Loaded by pytest before Django (see addopts): the test run's environment.

Tests run with DEBUG off on the default secret key (the guard against that is for deployments),
and Celery runs tasks eagerly unless a service test starts a real worker.
"""

import os

os.environ.setdefault("TRADEBOT_TESTING", "1")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")
