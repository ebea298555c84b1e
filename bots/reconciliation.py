"""Reconciliation: the books against the broker's, for each real broker account.

Every few minutes (and when the stream starts) each Alpaca account's positions, per symbol the sum
over its bots' open positions, and its open orders are compared with Alpaca's. A symbol with an order
still pending in the books is left alone that round: its fill may land between the two reads. A
difference opens a BookMismatch, holds the entries of the account's bots on that symbol with the
reason, and tells the owner; the pages show both pictures and offer the fixes:
- adopt the broker's quantity (when one bot holds the symbol: its position takes Alpaca's shares),
- close at the broker (sell the shares Alpaca holds beyond the books),
- mark resolved (the owner has dealt with it elsewhere).
A later round that finds the two agreeing again resolves it by itself.
"""

import logging
from datetime import datetime

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from bots import notices
from bots.broker_stops import stop_keep, stops_settle
from bots.connections import broker_for, market_for
from bots.holds import hold_entries_for_mismatch, hold_release
from bots.models import BookMismatch, Bot, BrokerAccount, BrokerStop
from brokers.base import BrokerError, OrderRequest
from positions.models import Position
from tradebot.errors import BrokerAccountUnusable, Conflict
from tradebot.events import publish
from trades.models import Trade

logger = logging.getLogger(__name__)

ORDER_PREFIX = "tb-"  # client order ids of Tradebot's orders


def accounts_reconcile(*, now: datetime | None = None) -> int:
    """Reconcile every Alpaca account some bot uses; the number of open mismatches found."""
    found = 0
    accounts = BrokerAccount.objects.filter(kind=BrokerAccount.Kind.ALPACA, bots__isnull=False).distinct()
    for account in accounts:
        try:
            found += len(account_reconcile(account=account, now=now))
        except (BrokerError, BrokerAccountUnusable) as exc:
            logger.warning("could not reconcile broker account %s: %s", account.pk, exc)
    return found


def account_reconcile(*, account: BrokerAccount, now: datetime | None = None) -> list[BookMismatch]:
    """Compare one account's books with the broker's; the mismatches open after this round."""
    now = now or timezone.now()
    broker = broker_for(account, market_for(account))
    working = broker.open_orders()
    # A resting stop that filled while no process was up is a sale the books record first (with its
    # fill), not a difference.
    stops_settle(account=account, broker=broker, working=working)
    theirs = {position.symbol: position.quantity for position in broker.positions()}
    resting = set(
        BrokerStop.objects.filter(position__bot__broker_account=account, status__in=BrokerStop.ACTIVE).values_list(
            "client_order_id", flat=True
        )
    )
    ours = dict(
        Position.objects.filter(bot__broker_account=account, is_open=True)
        .values_list("symbol")
        .annotate(shares=Sum("quantity"))
    )
    pending = {
        trade.client_order_id: trade.symbol for trade in Trade.objects.filter(bot__broker_account=account).pending()
    }
    differences: dict[tuple[str, str], tuple[int, int, str]] = {}
    for symbol in sorted(set(theirs) | set(ours)):
        if symbol in pending.values():
            continue  # an order in flight: its fill may land between the two reads
        held, at_broker = ours.get(symbol, 0), theirs.get(symbol, 0)
        if held != at_broker:
            detail = f"the bots hold {held} {symbol}, the broker {at_broker}"
            differences[(symbol, BookMismatch.Kind.POSITION)] = (held, at_broker, detail)
    for order in working:
        known = order.client_order_id in pending or order.client_order_id in resting
        if order.client_order_id.startswith(ORDER_PREFIX) and not known:
            detail = (
                f"the broker works on order {order.client_order_id} ({order.side} {order.quantity}), the books do not"
            )
            differences[(order.symbol, BookMismatch.Kind.ORDER)] = (0, order.quantity, detail)
    _close_agreed(account, differences, now)
    return [_record(account, symbol, kind, *found, now=now) for (symbol, kind), found in differences.items()]


def _record(
    account: BrokerAccount, symbol: str, kind: str, ours: int, theirs: int, detail: str, *, now
) -> BookMismatch:
    mismatch = account.mismatches.filter(symbol=symbol, kind=kind, resolved_at__isnull=True).first()
    if mismatch is not None:
        mismatch.ours, mismatch.theirs, mismatch.detail, mismatch.seen_at = ours, theirs, detail, now
        mismatch.save(update_fields=["ours", "theirs", "detail", "seen_at"])
        return mismatch
    mismatch = BookMismatch.objects.create(
        account=account, symbol=symbol, kind=kind, ours=ours, theirs=theirs, detail=detail, seen_at=now
    )
    logger.warning("books differ from broker account %s: %s", account.pk, detail)
    for bot in _affected_bots(account, symbol):
        hold_entries_for_mismatch(bot=bot, mismatch=mismatch)
    publish("book_mismatch", mismatch_payload(mismatch), user_id=account.owner_id)
    notices.mismatch_found(mismatch=mismatch)
    return mismatch


def _affected_bots(account: BrokerAccount, symbol: str) -> list[Bot]:
    """The account's bots that hold the symbol, or trade it (running or paused)."""
    holders = set(
        Position.objects.filter(bot__broker_account=account, symbol=symbol, is_open=True).values_list(
            "bot_id", flat=True
        )
    )
    trading = (Bot.Status.RUNNING, Bot.Status.PAUSED)
    return [bot for bot in account.bots.all() if bot.pk in holders or (bot.status in trading and symbol in bot.symbols)]


def _close_agreed(account: BrokerAccount, differences: dict, now: datetime) -> None:
    for mismatch in account.mismatches.filter(resolved_at__isnull=True):
        if (mismatch.symbol, mismatch.kind) not in differences:
            mismatch_resolve(mismatch=mismatch, resolution="the books and the broker agree again", now=now)


def mismatch_resolve(*, mismatch: BookMismatch, resolution: str, now: datetime | None = None) -> BookMismatch:
    """Close the mismatch and release the holds it placed."""
    if mismatch.resolved_at is None:
        mismatch.resolved_at = now or timezone.now()
        mismatch.resolution = resolution[:200]
        mismatch.save(update_fields=["resolved_at", "resolution"])
        for hold in mismatch.holds.filter(released_at__isnull=True):
            hold_release(hold=hold, why=f"books reconciled: {resolution}")
        publish("book_mismatch", mismatch_payload(mismatch), user_id=mismatch.account.owner_id)
    return mismatch


def mismatch_adopt(*, mismatch: BookMismatch) -> BookMismatch:
    """The broker is right: the one bot holding the symbol takes the broker's quantity."""
    _still_open(mismatch)
    holders = list(Position.objects.filter(bot__broker_account=mismatch.account, symbol=mismatch.symbol, is_open=True))
    if mismatch.kind != BookMismatch.Kind.POSITION or len(holders) != 1:
        raise Conflict("the broker's quantity can be adopted only when one bot holds the symbol: close at the broker")
    position = holders[0]
    with transaction.atomic():
        if mismatch.theirs > 0:
            position.quantity = mismatch.theirs
        else:  # sold elsewhere: the position is gone, at its last price, with nothing realized here
            position.is_open, position.closed_at, position.exit_price = False, timezone.now(), position.current_price
            position.unrealized_pnl = 0
        position.save()
    # Its stop resting at the broker follows: replaced for the new quantity, cancelled with the position.
    stop_keep(position=position, broker=broker_for(mismatch.account, market_for(mismatch.account)))
    return mismatch_resolve(mismatch=mismatch, resolution=f"adopted the broker's quantity ({mismatch.theirs})")


def mismatch_close_at_broker(*, mismatch: BookMismatch) -> BookMismatch:
    """The books are right: sell at the broker the shares it holds beyond them (or cancel the order
    the books do not have)."""
    _still_open(mismatch)
    account = mismatch.account
    broker = broker_for(account, market_for(account))
    if mismatch.kind == BookMismatch.Kind.ORDER:
        order_id = next((o.order_id for o in broker.open_orders() if o.symbol == mismatch.symbol), None)
        if order_id:
            broker.cancel_order(order_id)
        return mismatch_resolve(mismatch=mismatch, resolution="cancelled the order at the broker")
    extra = mismatch.theirs - mismatch.ours
    if extra <= 0:
        raise Conflict("the broker holds no shares beyond the books: adopt its quantity or mark it resolved")
    order = OrderRequest(mismatch.symbol, "sell", extra, f"tb-reconcile-{mismatch.pk}")
    result = broker.submit_order(order)
    return mismatch_resolve(
        mismatch=mismatch, resolution=f"sold {extra} {mismatch.symbol} at the broker ({result.status})"
    )


def mismatch_fix(*, mismatch: BookMismatch, fix: str) -> BookMismatch:
    """One of the fixes the pages and the API offer: adopt, close (at the broker), resolve (by hand)."""
    if fix == "adopt":
        return mismatch_adopt(mismatch=mismatch)
    if fix == "close":
        return mismatch_close_at_broker(mismatch=mismatch)
    if fix == "resolve":
        _still_open(mismatch)
        return mismatch_resolve(mismatch=mismatch, resolution="marked resolved by hand")
    raise ValueError(f"unknown fix {fix!r}")


def _still_open(mismatch: BookMismatch) -> None:
    if mismatch.resolved_at is not None:
        raise Conflict(f"already resolved: {mismatch.resolution}")


def mismatch_payload(mismatch: BookMismatch) -> dict:
    return {
        "id": mismatch.pk,
        "account_id": mismatch.account_id,
        "symbol": mismatch.symbol,
        "kind": mismatch.kind,
        "ours": mismatch.ours,
        "theirs": mismatch.theirs,
        "detail": mismatch.detail,
        "resolved": mismatch.resolved_at is not None,
        "resolution": mismatch.resolution,
    }
