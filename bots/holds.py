"""Holds: orders a bot must not resend for a symbol because the broker refused one and would again.

A refusal (a failed trade: insufficient funds or shares, forbidden, not tradable, account blocked,
or an order the broker rejected after taking it) holds that side of the symbol with the broker's
reason, shows on the bot and tells its owner; a person releases it, or the next session's open does.
An order a person places by hand (closing a position) is theirs to try: holds do not stop it.
"""

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from bots import notices
from bots.models import BookMismatch, Bot, BotHold
from tradebot.events import publish
from trades.models import Trade


def hold_after_refusal(*, bot: Bot, trade: Trade) -> BotHold | None:
    """Hold the trade's side of its symbol if the broker refused it; None when it did not."""
    if trade.status != Trade.Status.FAILED:
        return None
    try:
        with transaction.atomic():
            hold = BotHold.objects.create(
                bot=bot, symbol=trade.symbol, side=trade.type, reason=trade.message[:500], trade=trade
            )
    except IntegrityError:
        return None  # already held, or this refusal already made its hold
    _announce(hold)
    notices.hold_placed(hold=hold)
    return hold


def hold_entries_for_mismatch(*, bot: Bot, mismatch: BookMismatch) -> BotHold | None:
    """Hold the bot's entries on the symbol until the books match the broker's again."""
    try:
        with transaction.atomic():
            hold = BotHold.objects.create(
                bot=bot,
                symbol=mismatch.symbol,
                side=BotHold.Side.BUY,
                kind=BotHold.Kind.MISMATCH,
                reason=mismatch.detail[:500],
                mismatch=mismatch,
            )
    except IntegrityError:
        return None  # its entries on the symbol are held already
    _announce(hold)
    notices.hold_placed(hold=hold)
    return hold


def holds_open(bot: Bot) -> dict[tuple[str, str], BotHold]:
    return {(hold.symbol, hold.side): hold for hold in bot.holds.filter(released_at__isnull=True)}


def hold_release(*, hold: BotHold, why: str = "released by hand") -> BotHold:
    if hold.released_at is None:
        hold.released_at = timezone.now()
        hold.released_why = why[:200]
        hold.save(update_fields=["released_at", "released_why"])
        _announce(hold)
    return hold


def holds_release_for_new_session(*, opened: datetime) -> int:
    """A new session: the broker may say yes now (funds arrived, the asset trades again)."""
    held = BotHold.objects.filter(released_at__isnull=True, kind=BotHold.Kind.REFUSAL, created_at__lt=opened)
    released = 0
    for hold in held.select_related("bot"):
        hold_release(hold=hold, why="a new session opened")
        released += 1
    return released


def hold_payload(hold: BotHold) -> dict:
    return {
        "id": hold.pk,
        "bot_id": hold.bot_id,
        "symbol": hold.symbol,
        "side": hold.side,
        "reason": hold.reason,
        "held": hold.released_at is None,
        "created_at": hold.created_at,
        "released_at": hold.released_at,
    }


def _announce(hold: BotHold) -> None:
    publish("hold_changed", hold_payload(hold), user_id=hold.bot.owner_id)
