"""Template filters every page may use without {% load %} (TEMPLATES' builtins)."""

from datetime import datetime

from django import template
from django.templatetags.tz import do_timezone

from engine.market_time import EXCHANGE_TZ

register = template.Library()


@register.filter
def exchange_time(moment: datetime | None) -> datetime | None:
    """A stored (UTC) time as the exchange's clock shows it: what a trader reads on every page. Marked,
    like Django's own `timezone` filter, so that `date` does not convert it back."""
    return do_timezone(moment, EXCHANGE_TZ) if moment else moment
