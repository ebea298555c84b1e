import logging.config
import os

from celery import Celery
from celery.signals import setup_logging, task_postrun, task_prerun
from django.conf import settings

from tradebot import logs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradebot.settings")

app = Celery("tradebot")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def keep_django_logging(**kwargs) -> None:
    # Connected, this replaces Celery's own set-up: the worker and beat log through Django's LOGGING.
    logging.config.dictConfig(settings.LOGGING)


@task_prerun.connect
def bind_task(task_id=None, task=None, **kwargs) -> None:
    logs.task_started(task_id, task.name)


@task_postrun.connect
def unbind_task(**kwargs) -> None:
    logs.task_finished()
