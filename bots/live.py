"""What every page needs to stay live: the market banner, and on the embedded run (an in-memory channel
layer, which another process cannot publish to) a mark of the latest change that the page polls to
catch up with ticks run elsewhere (manage.py tick, a shell); see static/js/live.js."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject
from django.views.decorators.cache import never_cache

from bots.models import Bot, TickLog
from market.status import market_status_now
from positions.models import Position
from trades.models import Trade

# How often a page on the embedded run asks whether something changed (one small request, four index reads).
CATCH_UP_SECONDS = 5


def embedded_channel_layer() -> bool:
    return settings.CHANNEL_LAYERS["default"]["BACKEND"].endswith("InMemoryChannelLayer")


def live_page(request: HttpRequest) -> dict:
    """Template context for every page: `market` (evaluated only where a page shows it) and `catch_up`."""
    return {
        "market": SimpleLazyObject(market_status_now),
        "catch_up_seconds": CATCH_UP_SECONDS if embedded_channel_layer() else 0,
    }


@never_cache
@login_required
def live_mark(request: HttpRequest) -> HttpResponse:
    """A short text that changes whenever a trade, position, bot or tick record of the user changes."""
    user = request.user
    marks = (
        Trade.objects.for_user(user).aggregate(last=Max("id"), settled=Max("filled_at"))
        | {"positions": Position.objects.for_user(user).aggregate(last=Max("updated_at"))["last"]}
        | {"bots": Bot.objects.for_user(user).aggregate(last=Max("updated_at"))["last"]}
        | {"ticks": TickLog.objects.filter(bot__in=Bot.objects.for_user(user)).aggregate(last=Max("id"))["last"]}
    )
    return HttpResponse("|".join(str(marks[key]) for key in sorted(marks)), content_type="text/plain")
