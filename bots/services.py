"""Bots and broker accounts: every state change goes through here (views, API, admin, commands, tasks)."""

import json
from decimal import Decimal

import structlog
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from pydantic import ValidationError

from accounts.audit.models import AuditEntry
from accounts.audit.services import audit_record
from accounts.mfa import MFA_REQUIRED, has_mfa, require_mfa
from bots import notices
from bots.checks import forget_broker_keys_health
from bots.connections import account_feed, broker_for
from bots.models import Bot, BrokerAccount
from bots.orders import position_close
from brokers.base import AccountInfo, BrokerError
from brokers.endpoints import EndpointRefused, check_endpoint
from engine.config import BotConfig, config_errors
from tradebot.errors import Conflict, Invalid
from tradebot.events import publish
from trades.models import Trade

log = structlog.get_logger(__name__)
Action = AuditEntry.Action

TICK_TASK = "bots.tick"
STATUS_ACTIONS = {
    Bot.Status.RUNNING: Action.BOT_STARTED,
    Bot.Status.PAUSED: Action.BOT_PAUSED,
    Bot.Status.STOPPED: Action.BOT_STOPPED,
    Bot.Status.ERROR: Action.BOT_ERRORED,
}
DEFAULT_ACCOUNT_NAME = "Paper (simulated)"


def default_broker_account(user) -> BrokerAccount:
    """Every user has a simulated paper account, created on first need."""
    account = BrokerAccount.objects.filter(owner=user, is_default=True).first()
    if account is None:
        account, _ = BrokerAccount.objects.get_or_create(
            owner=user, name=DEFAULT_ACCOUNT_NAME, defaults={"kind": BrokerAccount.Kind.SIM, "is_default": True}
        )
    return account


def parse_config(data: dict) -> BotConfig:
    try:
        return BotConfig.model_validate(data)
    except ValidationError as exc:
        raise Invalid(config_errors(exc)) from None


def _check_account(owner, account: BrokerAccount | None) -> BrokerAccount:
    if account is None:
        return default_broker_account(owner)
    if account.owner_id != owner.pk:
        raise Invalid([{"field": "broker_account_id", "message": "no such broker account"}])
    return account


def _live_errors(owner, account: BrokerAccount, confirm_live: bool) -> list[dict]:
    """A bot put on a live account trades real money: its owner confirms it each time, with two-factor on."""
    if account.paper:
        return []
    if not confirm_live:
        message = f"{account.name} is a live account: this bot would trade real money. Confirm it explicitly"
        return [{"field": "confirm_live", "message": message}]
    if not has_mfa(owner):
        return [{"field": "confirm_live", "message": MFA_REQUIRED}]
    return []


def _check_name(owner, name: str, exclude_id: int | None = None) -> None:
    if Bot.objects.filter(owner=owner, name=name).exclude(pk=exclude_id).exists():
        raise Invalid([{"field": "name", "message": f"you already have a bot named {name!r}"}])


def _check_stop_at_broker(config: BotConfig, account: BrokerAccount) -> None:
    if config.risk_management.stop_at_broker and account.kind != BrokerAccount.Kind.ALPACA:
        raise Invalid(
            [
                {
                    "field": "risk_management.stop_at_broker",
                    "message": "needs an Alpaca broker account: the simulated broker keeps no orders resting",
                }
            ]
        )


@transaction.atomic
def bot_create(
    *, owner, config: BotConfig, broker_account: BrokerAccount | None = None, confirm_live: bool = False
) -> Bot:
    _check_name(owner, config.name)
    account = _check_account(owner, broker_account)
    if errors := _live_errors(owner, account, confirm_live):
        raise Invalid(errors)
    bot = Bot(owner=owner, broker_account=account)
    _check_stop_at_broker(config, bot.broker_account)
    bot.apply_config(config)
    bot.save()
    audit_record(action=Action.BOT_CREATED, target=bot, owner_id=bot.owner_id, bot_id=bot.pk)
    return bot


@transaction.atomic
def bot_update(
    *, bot: Bot, config: BotConfig, broker_account: BrokerAccount | None = None, confirm_live: bool = False
) -> Bot:
    _check_name(bot.owner, config.name, exclude_id=bot.pk)
    if broker_account is not None and broker_account.pk != bot.broker_account_id:
        if errors := _live_errors(bot.owner, broker_account, confirm_live):
            raise Invalid(errors)
        if bot.positions.filter(is_open=True).exists():
            raise Conflict("close the bot's open positions before moving it to another broker account")
        if bot.trades.pending().exists():
            # The next tick would ask the new account for the order, not find it, and place it again there.
            raise Conflict("the bot has orders still pending at its broker: wait for them to settle before moving it")
        bot.broker_account = _check_account(bot.owner, broker_account)
    _check_stop_at_broker(config, bot.broker_account)
    bot.apply_config(config)
    bot.save()
    audit_record(action=Action.BOT_CHANGED, target=bot, owner_id=bot.owner_id, bot_id=bot.pk)
    if bot.periodic_task_id:
        _schedule(bot, enabled=bot.status in (Bot.Status.RUNNING, Bot.Status.PAUSED))
    return bot


@transaction.atomic
def bot_delete(*, bot: Bot) -> None:
    """Delete a bot without open positions; its trades and closed positions stay, with its name."""
    if bot.positions.filter(is_open=True).exists():
        raise Conflict("the bot has open positions: close them first")
    if bot.trades.pending().exists():
        # Orphaned, a pending order would still fill at the broker with nothing left to record it.
        raise Conflict("the bot has orders still pending at its broker: wait for them to settle first")
    if bot.periodic_task_id:
        PeriodicTask.objects.filter(pk=bot.periodic_task_id).delete()
    audit_record(action=Action.BOT_DELETED, target=bot, owner_id=bot.owner_id, bot_id=bot.pk)
    bot.delete()


def bot_start(*, bot: Bot, confirm_live: bool = False) -> Bot:
    """Start (or resume) the bot. On a live account its owner confirms the real money each time."""
    if not bot.broker_account.paper:
        if not confirm_live:
            raise Conflict(
                f"{bot.name} trades real money on {bot.broker_account.name}: confirm it explicitly (confirm_live)"
            )
        require_mfa(bot.owner)
    try:
        bot.config()
    except ValidationError as exc:
        problems = "; ".join(f"{e['field']}: {e['message']}" for e in config_errors(exc))
        raise Conflict(f"the configuration no longer validates: {problems}") from None
    bot.broker_account.credentials()  # BrokerKeysUnreadable: a bot that could not reach its broker
    return _set_status(bot, Bot.Status.RUNNING, "", schedule=True)


@transaction.atomic
def bot_pause(*, bot: Bot, reason: str = "paused by hand", until_reset: bool = False) -> Bot:
    """Paused bots still manage their exits (the schedule stays) but make no new entries."""
    # The stored status, not the caller's copy: a tick pausing on its daily limit must not undo a stop
    # made while it ran (and turn the bot's schedule back on).
    status = Bot.objects.select_for_update().values_list("status", flat=True).get(pk=bot.pk)
    if status in (Bot.Status.STOPPED, Bot.Status.ERROR):
        bot.status = status
        raise Conflict(f"a {status} bot cannot be paused: start it first")
    return _set_status(bot, Bot.Status.PAUSED, reason, schedule=True, until_reset=until_reset)


def bot_stop(*, bot: Bot, reason: str = "stopped by hand", close_positions: bool | None = None) -> Bot:
    """Stop the bot's ticks. A bot holding positions needs its owner's choice: `close_positions` True
    sells them now (each through the order path; a refusal is on its trade), False keeps them (their
    stop-loss and take-profit stay watched: exits never sleep). Not choosing is a Conflict."""
    held = list(bot.positions.filter(is_open=True))
    if held and close_positions is None:
        raise Conflict(
            f"{bot.name} holds {len(held)} open position(s) ({', '.join(p.symbol for p in held)}): choose to close "
            "them now or keep them (their stop-loss and take-profit stay watched)"
        )
    bot = _set_status(bot, Bot.Status.STOPPED, reason, schedule=False)
    if close_positions:
        failed = []
        for position in held:
            try:
                trade = position_close(position=position, reason="closed when the bot was stopped")
            except (Conflict, BrokerError) as exc:
                failed.append(f"{position.symbol}: {exc}")
            else:
                if trade.broker_refusal:
                    failed.append(f"{position.symbol}: {trade.broker_refusal}")
        if failed:
            raise Conflict(f"{bot.name} is stopped, but not every position closed: {'; '.join(failed)}")
    return bot


def bot_fail(*, bot: Bot, message: str) -> Bot:
    """The bot stops ticking until a person restarts it, with the message shown."""
    return _set_status(bot, Bot.Status.ERROR, message, schedule=False)


@transaction.atomic
def bot_resume_after_reset(*, bot: Bot) -> Bot | None:
    """Resume a bot a daily rule paused; None when it is no longer so paused (stopped or paused by hand since)."""
    current = Bot.objects.select_for_update().filter(pk=bot.pk).values("status", "paused_until_reset").first()
    if current != {"status": Bot.Status.PAUSED, "paused_until_reset": True}:
        return None
    return _set_status(bot, Bot.Status.RUNNING, "", schedule=True)


@transaction.atomic
def _set_status(bot: Bot, status: str, reason: str, *, schedule: bool, until_reset: bool = False) -> Bot:
    bot.status = status
    bot.status_reason = reason[:500]
    bot.paused_until_reset = until_reset
    bot.paused_at = timezone.now() if status == Bot.Status.PAUSED else None
    if status == Bot.Status.RUNNING:
        bot.consecutive_failures = 0
    bot.save(
        update_fields=[
            "status",
            "status_reason",
            "paused_until_reset",
            "paused_at",
            "consecutive_failures",
            "updated_at",
        ]
    )
    _schedule(bot, enabled=schedule)
    log.info("bot_status_changed", bot_id=bot.pk, status=status, reason=bot.status_reason)
    audit_record(
        action=STATUS_ACTIONS[status],
        target=bot,
        owner_id=bot.owner_id,
        bot_id=bot.pk,
        details={"reason": bot.status_reason},
    )
    notices.status_changed(bot=bot, until_reset=until_reset)
    publish("bot_status_changed", status_payload(bot), user_id=bot.owner_id)
    return bot


def _schedule(bot: Bot, *, enabled: bool) -> None:
    """The bot's django-celery-beat entry: one tick every trading_frequency seconds while it runs or is paused."""
    interval, _ = IntervalSchedule.objects.get_or_create(every=bot.trading_frequency, period=IntervalSchedule.SECONDS)
    task, _ = PeriodicTask.objects.update_or_create(
        name=f"bot {bot.pk} tick",
        defaults={
            "task": TICK_TASK,
            "interval": interval,
            "args": json.dumps([bot.pk]),
            "enabled": enabled,
            # A tick that waited longer than its period is stale: the next one is already due.
            "expire_seconds": bot.trading_frequency,
            "description": f"Trading ticks of {bot.name}",
        },
    )
    if bot.periodic_task_id != task.pk:
        bot.periodic_task = task
        bot.save(update_fields=["periodic_task"])


def status_payload(bot: Bot) -> dict:
    return {"id": bot.pk, "name": bot.name, "status": bot.status, "status_reason": bot.status_reason}


@transaction.atomic
def broker_account_create(
    *,
    owner,
    name: str,
    kind: str,
    paper: bool = True,
    api_key: str = "",
    secret_key: str = "",
    base_url: str = "",
    data_url: str = "",
    sim_slippage: Decimal | None = None,
    sim_commission: Decimal | None = None,
    data_feed: str = BrokerAccount._meta.get_field("data_feed").default,
    confirm_live: bool = False,
) -> BrokerAccount:
    """Simulated costs left out take the model's defaults."""
    account = BrokerAccount(
        owner=owner, name=name, kind=kind, paper=paper, base_url=base_url, data_url=data_url, data_feed=data_feed
    )
    _set_costs(account, sim_slippage, sim_commission)
    return _broker_account_save(account, api_key=api_key, secret_key=secret_key, confirm_live=confirm_live)


@transaction.atomic
def broker_account_update(
    *,
    account: BrokerAccount,
    name: str | None = None,
    paper: bool | None = None,
    api_key: str = "",
    secret_key: str = "",
    base_url: str | None = None,
    data_url: str | None = None,
    sim_slippage: Decimal | None = None,
    sim_commission: Decimal | None = None,
    data_feed: str | None = None,
    confirm_live: bool = False,
) -> BrokerAccount:
    """Change what is given (None keeps a setting); blank keys keep the stored secrets. The kind is fixed."""
    if paper is not None and paper != account.paper and account.bots.filter(positions__is_open=True).exists():
        # The positions are held at the other endpoint: the bots could no longer sell them.
        raise Conflict("close the open positions of this account's bots before switching between paper and live")
    if (
        paper is not None
        and paper != account.paper
        and Trade.objects.filter(bot__broker_account=account).pending().exists()
    ):
        # A pending order would be looked up at the other endpoint, not found there, and placed again: with real money.
        raise Conflict(
            "orders of this account's bots are still pending: "
            "wait for them to settle before switching between paper and live"
        )
    changes = {"name": name, "paper": paper, "base_url": base_url, "data_url": data_url, "data_feed": data_feed}
    for field, value in changes.items():
        if value is not None:
            setattr(account, field, value)
    _set_costs(account, sim_slippage, sim_commission)
    return _broker_account_save(account, api_key=api_key, secret_key=secret_key, confirm_live=confirm_live)


def _set_costs(account: BrokerAccount, slippage: Decimal | None, commission: Decimal | None) -> None:
    if slippage is not None:
        account.sim_slippage = slippage
    if commission is not None:
        account.sim_commission = commission


def _broker_account_save(account: BrokerAccount, *, api_key: str, secret_key: str, confirm_live: bool) -> BrokerAccount:
    """Validate the account as it would be saved (creating or changing it), then save it, secrets encrypted."""
    errors = _broker_account_errors(account, api_key=api_key, secret_key=secret_key, confirm_live=confirm_live)
    if errors:
        raise Invalid(errors)
    if api_key:
        account.set_credentials(api_key, secret_key)
        transaction.on_commit(forget_broker_keys_health)
    action = Action.ACCOUNT_ADDED if account.pk is None else Action.ACCOUNT_CHANGED
    account.save()
    # Whether the keys changed, never the keys.
    details = {"kind": account.kind, "paper": account.paper, "new_keys": bool(api_key)}
    audit_record(action=action, target=account, owner_id=account.owner_id, details=details)
    return account


def _broker_account_errors(account: BrokerAccount, *, api_key: str, secret_key: str, confirm_live: bool) -> list[dict]:
    """Every problem with the account as it would be saved, each on the field it is about."""
    try:
        # Field by field (kind, URLs, lengths, digits); this also turns the costs into Decimals.
        account.full_clean(exclude=["owner"], validate_constraints=False)
        errors = []
    except DjangoValidationError as exc:
        errors = [{"field": field, "message": " ".join(messages)} for field, messages in exc.message_dict.items()]
    failed = {error["field"] for error in errors}
    # The model's constraints and the rules of use, worded for people:
    if bool(api_key) != bool(secret_key):
        missing = "secret_key" if api_key else "api_key"
        errors.append({"field": missing, "message": "enter both the API key and the secret key"})
    elif account.kind == BrokerAccount.Kind.ALPACA and not (api_key or account.has_credentials):
        errors.append({"field": "api_key", "message": "an Alpaca account needs an API key and a secret key"})
    if account.kind == BrokerAccount.Kind.SIM and not account.paper:
        errors.append({"field": "paper", "message": "the simulated broker only trades on paper"})
    # Asked on every save that leaves the account live, not only when it becomes live: new keys or a
    # new endpoint for a live account are the same decision.
    if not account.paper and not confirm_live:
        errors.append({"field": "confirm_live", "message": "a live account trades real money: confirm it explicitly"})
    elif not account.paper and account.kind != BrokerAccount.Kind.SIM and not has_mfa(account.owner):
        errors.append({"field": "confirm_live", "message": MFA_REQUIRED})
    same_name = BrokerAccount.objects.filter(owner_id=account.owner_id, name=account.name).exclude(pk=account.pk)
    if "name" not in failed and same_name.exists():
        errors.append({"field": "name", "message": f"you already have a broker account named {account.name!r}"})
    errors += [
        {"field": costs, "message": "must not be negative"}
        for costs in ("sim_slippage", "sim_commission")
        if costs not in failed and getattr(account, costs) < 0
    ]
    for field in ("base_url", "data_url"):
        url = getattr(account, field)
        if url and field not in failed:
            try:
                check_endpoint(url)
            except EndpointRefused as exc:
                errors.append({"field": field, "message": str(exc)})
    return errors


def broker_account_delete(*, account: BrokerAccount) -> None:
    if Trade.objects.filter(bot__broker_account=account).pending().exists():
        raise Conflict("orders placed through this account are still pending: wait for them to settle first")
    if account.bots.exists():
        raise Conflict("bots use this broker account: move or delete them first")
    audit_record(action=Action.ACCOUNT_REMOVED, target=account, owner_id=account.owner_id)
    account.delete()


def broker_account_check(*, account: BrokerAccount) -> AccountInfo:
    """Read the account at its broker (keys, endpoint, status, buying power): a connection test.
    BrokerError says what failed; BrokerKeysUnreadable that the keys must be entered again."""
    account.credentials()
    return broker_for(account, account_feed(account)).account()
