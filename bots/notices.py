"""What the bots tell their owners (accounts.notifications): each event once, under a key that names
it, so a retried task or a tick that sees the same thing again sends nothing more."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from accounts.notifications.events import Event
from accounts.notifications.services import notify
from bots.models import Bot, BotHold
from tradebot.circuits import circuit_state
from trades.models import Trade

# A broker, a feed or a stream that does not answer for this long is worth waking someone for.
DOWN_FOR = timedelta(minutes=5)
EXITS = ("stop-loss", "take-profit")


def order_ended(*, bot: Bot, trade: Trade) -> None:
    """A trade the broker is done with: filled (and whether a stop or target did it), or refused."""
    what = f"{trade.type} {trade.quantity} {trade.symbol}"
    if trade.status == Trade.Status.FILLED:
        notify(
            user_id=bot.owner_id,
            event=Event.ORDER_FILLED,
            key=f"order:{trade.client_order_id}:filled",
            title=f"{bot.name}: {what} filled at {trade.price}",
            body=trade.reason,
            bot_id=bot.pk,
        )
        if trade.reason.startswith(EXITS):
            kind = trade.reason.split(":", 1)[0]
            notify(
                user_id=bot.owner_id,
                event=Event.EXIT_HIT,
                key=f"order:{trade.client_order_id}:exit",
                title=f"{bot.name}: {kind} hit on {trade.symbol}, sold {trade.quantity} at {trade.price}",
                body=f"{trade.reason}; P&L {trade.profit_loss}",
                bot_id=bot.pk,
            )
        if trade.type == Trade.Type.SELL:
            _loss_in_the_hour(bot=bot, now=trade.filled_at or timezone.now())
        return
    notify(
        user_id=bot.owner_id,
        event=Event.ORDER_FAILED,
        key=f"order:{trade.client_order_id}:{trade.status}",
        title=f"{bot.name}: {what} {trade.status}",
        body=trade.message,
        bot_id=bot.pk,
    )


def order_sent(*, bot: Bot, now: datetime) -> None:
    """Unusual trading: the owner's bots placed more orders in the last minute than the threshold."""
    threshold = settings.TRADEBOT_NOTIFY_ORDERS_PER_MINUTE
    recent = Trade.objects.filter(owner_id=bot.owner_id, timestamp__gte=now - timedelta(minutes=1)).count()
    if recent > threshold:
        notify(
            user_id=bot.owner_id,
            event=Event.UNUSUAL,
            key=f"unusual:orders:{now:%Y%m%dT%H%M}",
            title=f"Unusual trading: {recent} orders in the last minute (threshold {threshold})",
            body=f"latest by {bot.name}",
            bot_id=bot.pk,
        )


def _loss_in_the_hour(*, bot: Bot, now: datetime) -> None:
    limit = settings.TRADEBOT_NOTIFY_HOURLY_LOSS
    realized = Trade.objects.filter(
        owner_id=bot.owner_id, status=Trade.Status.FILLED, filled_at__gte=now - timedelta(hours=1)
    ).aggregate(total=Sum("profit_loss"))["total"]
    if realized is not None and realized < -limit:
        notify(
            user_id=bot.owner_id,
            event=Event.UNUSUAL,
            key=f"unusual:loss:{now:%Y%m%dT%H}",
            title=f"Unusual trading: {-realized:,.2f} lost within the hour (threshold {limit:,.2f})",
            body=f"latest by {bot.name}",
            bot_id=bot.pk,
        )


def status_changed(*, bot: Bot, until_reset: bool = False) -> None:
    """A bot paused on a daily limit, or stopped in error."""
    at = f"{timezone.now():%Y%m%dT%H%M%S}"
    if bot.status == Bot.Status.ERROR:
        notify(
            user_id=bot.owner_id,
            event=Event.BOT_ERROR,
            key=f"bot:{bot.pk}:error:{at}",
            title=f"{bot.name} stopped in error",
            body=bot.status_reason,
            bot_id=bot.pk,
        )
    elif bot.status == Bot.Status.PAUSED and until_reset:
        notify(
            user_id=bot.owner_id,
            event=Event.DAILY_LIMIT,
            key=f"bot:{bot.pk}:daily:{timezone.now():%Y%m%d}",
            title=f"{bot.name} paused for the day",
            body=bot.status_reason,
            bot_id=bot.pk,
        )


def broker_down(*, bot: Bot, circuit: str, now: datetime) -> None:
    """The bot's broker or feed has not answered for DOWN_FOR: told once per outage."""
    state = circuit_state(circuit)
    if state.opened_at is None or now - state.opened_at < DOWN_FOR:
        return
    minutes = (now - state.opened_at).total_seconds() / 60
    notify(
        user_id=bot.owner_id,
        event=Event.BROKER_DOWN,
        key=f"down:{bot.broker_account_id}:{state.opened_at:%Y%m%dT%H%M%S}",
        title=f"{bot.broker_account.name}: the broker or its feed has been down for {minutes:.0f} min",
        body=f"{state.last_error}. Entries are held until it answers; the bots resume by themselves.",
        bot_id=bot.pk,
    )


def hold_placed(*, hold: BotHold) -> None:
    notify(
        user_id=hold.bot.owner_id,
        event=Event.HOLD,
        key=f"hold:{hold.pk}",
        title=f"{hold.bot.name}: {hold.side}s of {hold.symbol} held",
        body=hold.reason,
        bot_id=hold.bot_id,
    )


def mismatch_found(*, mismatch) -> None:
    notify(
        user_id=mismatch.account.owner_id,
        event=Event.MISMATCH,
        key=f"mismatch:{mismatch.pk}",
        title=f"{mismatch.account.name}: the books differ from the broker's on {mismatch.symbol}",
        body=mismatch.detail,
    )


def stream_down(*, account, since: datetime) -> None:
    """The account's market data stream dropped (or never connected) and is still down: told once per outage."""
    minutes = (timezone.now() - since).total_seconds() / 60
    notify(
        user_id=account.owner_id,
        event=Event.STREAM_DOWN,
        key=f"stream:{account.pk}:{since:%Y%m%dT%H%M%S}",
        title=f"{account.name}: the market stream has been down for {minutes:.0f} min",
        body="Ticks and stop-loss checks fall back to polling until it reconnects.",
    )
