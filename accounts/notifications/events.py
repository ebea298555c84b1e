"""The events a channel may be sent: one list, for the models, the forms, the admin and the callers."""

from django.db import models


class Event(models.TextChoices):
    ORDER_FILLED = "order_filled", "An order filled"
    ORDER_FAILED = "order_failed", "An order was refused or failed"
    EXIT_HIT = "exit_hit", "A stop-loss or take-profit was hit"
    DAILY_LIMIT = "daily_limit", "A bot paused on a daily limit"
    BOT_ERROR = "bot_error", "A bot stopped in error"
    BROKER_DOWN = "broker_down", "A broker or its feed is down for minutes"
    MISMATCH = "mismatch", "The books differ from the broker's"
    HOLD = "hold", "Entries held after a refusal or a mismatch"
    STREAM_DOWN = "stream_down", "The market stream disconnected"
    UNUSUAL = "unusual", "Unusual trading: many orders a minute, or a large loss within an hour"
    TEST = "test", "A test message"


# What a new channel is sent unless its owner chooses otherwise: everything that needs a person.
DEFAULT_EVENTS = [event.value for event in Event if event not in (Event.ORDER_FILLED, Event.TEST)]
CHOOSABLE = [(event.value, event.label) for event in Event if event != Event.TEST]
