"""The market API's answer to "which feed and clock may this caller use" (market.callers.serve_feeds)."""

from django.shortcuts import get_object_or_404

from bots.connections import market_for, market_status_for
from bots.selectors import broker_account_list
from bots.services import default_broker_account
from market.callers import CallerMarket


def caller_market(user, account_id: int | None) -> CallerMarket:
    """The feed and clock of the caller's broker account (their default simulated one when none is
    named); another user's account is a 404 (market.api serves this)."""
    if account_id is None:
        account = default_broker_account(user)
    else:
        account = get_object_or_404(broker_account_list(user=user), pk=account_id)
    return CallerMarket(feed=market_for(account), status=lambda now: market_status_for(account, now))
