"""/api/bots, /api/broker-accounts and /api/summary: parse, call one service or selector, render."""

from decimal import Decimal

from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema
from ninja.responses import Status

from bots import holds, reconciliation, selectors, services
from bots.models import BookMismatch, Bot, BrokerAccount
from bots.schemas import BotIn, BotOut, BrokerAccountIn, BrokerAccountOut, MismatchFixIn, MismatchOut
from tradebot.api_types import Id
from tradebot.errors import Invalid

router = Router()


def _bot(request, bot_id: int) -> Bot:
    # Another user's bot is a 404, not a 403: ids do not reveal what exists.
    return get_object_or_404(Bot.objects.for_user(request.auth), pk=bot_id)


def _account(owner, account_id: int | None) -> BrokerAccount | None:
    """The owner's broker account named in a bot's payload; a stranger's or a missing one is a field error."""
    if account_id is None:
        return None
    account = BrokerAccount.objects.filter(pk=account_id, owner=owner).first()
    if account is None:
        raise Invalid([{"field": "broker_account_id", "message": "no such broker account"}])
    return account


@router.get("/bots", response=list[BotOut], tags=["bots"])
def bot_list(request):
    return selectors.bot_list(user=request.auth)


@router.post("/bots", response={201: BotOut}, tags=["bots"])
def bot_create(request, payload: BotIn):
    owner = request.auth
    bot = services.bot_create(
        owner=owner,
        config=payload.config(),
        broker_account=_account(owner, payload.broker_account_id),
        confirm_live=payload.confirm_live,
    )
    return Status(201, bot)


@router.get("/bots/{id}", response=BotOut, tags=["bots"])
def bot_detail(request, id: Id):
    return _bot(request, id)


@router.put("/bots/{id}", response=BotOut, tags=["bots"])
def bot_update(request, id: Id, payload: BotIn):
    bot = _bot(request, id)
    return services.bot_update(
        bot=bot,
        config=payload.config(),
        broker_account=_account(bot.owner, payload.broker_account_id),
        confirm_live=payload.confirm_live,
    )


@router.delete("/bots/{id}", response={204: None}, tags=["bots"])
def bot_delete(request, id: Id):
    services.bot_delete(bot=_bot(request, id))
    return Status(204, None)


@router.post("/bots/{id}/start", response=BotOut, tags=["bots"])
def bot_start(request, id: Id, confirm_live: bool = False):
    """A bot on a live account starts only with `confirm_live=true` (it trades real money) and with
    two-factor authentication on; otherwise the answer is 409 saying so."""
    return services.bot_start(bot=_bot(request, id), confirm_live=confirm_live)


@router.post("/bots/{id}/stop", response=BotOut, tags=["bots"])
def bot_stop(request, id: Id, close_positions: bool | None = None):
    """A bot holding positions needs `close_positions`: true sells them now, false keeps them (their
    stop-loss and take-profit stay watched); without it the answer is 409 naming them."""
    return services.bot_stop(bot=_bot(request, id), close_positions=close_positions)


@router.post("/bots/{id}/pause", response=BotOut, tags=["bots"])
def bot_pause(request, id: Id):
    return services.bot_pause(bot=_bot(request, id))


@router.post("/bots/{id}/holds/{hold_id}/release", response=BotOut, tags=["bots"])
def hold_release(request, id: Id, hold_id: Id):
    bot = _bot(request, id)
    holds.hold_release(hold=get_object_or_404(bot.holds, pk=hold_id))
    return selectors.bot_list(user=request.auth).get(pk=bot.pk)


@router.get("/broker-accounts", response=list[BrokerAccountOut], tags=["broker accounts"])
def broker_account_list(request):
    # Every user has a simulated paper account; listing is where a new user first meets it.
    services.default_broker_account(request.auth)
    return selectors.broker_account_list(user=request.auth)


@router.post("/broker-accounts", response={201: BrokerAccountOut}, tags=["broker accounts"])
def broker_account_create(request, payload: BrokerAccountIn):
    return Status(201, services.broker_account_create(owner=request.auth, **payload.dict()))


@router.delete("/broker-accounts/{id}", response={204: None}, tags=["broker accounts"])
def broker_account_delete(request, id: Id):
    accounts = selectors.broker_account_list(user=request.auth)
    services.broker_account_delete(account=get_object_or_404(accounts, pk=id))
    return Status(204, None)


class SummaryOut(Schema):
    bots_by_status: dict[str, int]
    bots_total: int
    open_positions: int
    open_positions_value: Decimal
    unrealized_pnl: Decimal
    realized_pnl_today: Decimal
    realized_pnl_total: Decimal
    total_pnl: Decimal = Field(description="Realized in total + unrealized")
    trades_today: int = Field(description="Filled today (the exchange's day, New York)")
    win_rate_pct: float | None


@router.get("/summary", response=SummaryOut, tags=["summary"])
def summary(request):
    return selectors.summary(user=request.auth)


@router.get("/broker-accounts/{id}/mismatches", response=list[MismatchOut], tags=["broker accounts"])
def mismatch_list(request, id: Id, resolved: bool = False):
    """Where the books differ from the broker's (reconciliation runs every few minutes); with
    resolved=true, the ones already fixed too."""
    account = get_object_or_404(selectors.broker_account_list(user=request.auth), pk=id)
    mismatches = account.mismatches.all()
    return mismatches if resolved else mismatches.filter(resolved_at__isnull=True)


@router.post("/broker-accounts/{id}/reconcile", response=list[MismatchOut], tags=["broker accounts"])
def account_reconcile(request, id: Id):
    """Compare the books with the broker's now; the mismatches open after it."""
    account = get_object_or_404(selectors.broker_account_list(user=request.auth), pk=id)
    return reconciliation.account_reconcile(account=account)


@router.post("/mismatches/{id}/fix", response=MismatchOut, tags=["broker accounts"])
def mismatch_fix(request, id: Id, payload: MismatchFixIn):
    mismatch = get_object_or_404(
        BookMismatch.objects.filter(account__in=selectors.broker_account_list(user=request.auth)), pk=id
    )
    return reconciliation.mismatch_fix(mismatch=mismatch, fix=payload.fix)
