"""Admin for bots and broker accounts. Every change goes through bots.services; each person sees
and changes only their own rows (superusers see everyone's)."""

from functools import partial

from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from bots import selectors, services
from bots.forms import ACCOUNT_FIELDS, BotForm, BrokerAccountForm
from bots.models import Bot, BrokerAccount, BrokerStop
from engine.market_time import EXCHANGE_TZ
from tradebot.admin_mixins import OwnedAdmin, ReadOnlyAdmin
from tradebot.errors import Conflict

RECENT_TICKS = 20


def _became_saved(obj, saved) -> None:
    """The admin logs and redirects with the instance it built: make it the row the service saved."""
    obj.pk = saved.pk
    obj.refresh_from_db()


def _run_on_each(modeladmin, request, bots, service, done: str) -> None:
    changed = 0
    for bot in bots:
        try:
            service(bot=bot)
            changed += 1
        except Conflict as exc:
            modeladmin.message_user(request, f"{bot.name}: {exc}", messages.ERROR)
    if changed:
        modeladmin.message_user(request, f"{changed} bot(s) {done}.", messages.SUCCESS)


@admin.action(description="Start selected bots")
def start_bots(modeladmin, request, queryset):
    _run_on_each(modeladmin, request, queryset, services.bot_start, "started")


@admin.action(description="Start selected bots, those on live accounts included: I confirm they trade real money")
def start_bots_confirming_live(modeladmin, request, queryset):
    _run_on_each(modeladmin, request, queryset, partial(services.bot_start, confirm_live=True), "started")


@admin.action(description="Pause selected bots (exits still managed, no new entries)")
def pause_bots(modeladmin, request, queryset):
    _run_on_each(modeladmin, request, queryset, services.bot_pause, "paused")


@admin.action(description="Stop selected bots, keeping their open positions (stops and targets stay watched)")
def stop_bots_keeping_positions(modeladmin, request, queryset):
    _run_on_each(modeladmin, request, queryset, partial(services.bot_stop, close_positions=False), "stopped")


@admin.action(description="Stop selected bots and close their open positions now")
def stop_bots_closing_positions(modeladmin, request, queryset):
    _run_on_each(modeladmin, request, queryset, partial(services.bot_stop, close_positions=True), "stopped")


@admin.register(Bot)
class BotAdmin(OwnedAdmin):
    form = BotForm
    conflict_field = "broker_account"  # bot_update refuses moving a bot that holds positions
    list_display = [
        "name",
        "status_badge",
        "capital",
        "open_positions",
        "pnl_today",
        "broker_account",
        "timeframe",
        "last_tick_at",
    ]
    list_filter = ["status", "timeframe", ("broker_account", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["broker_account"]
    search_fields = ["name", "symbols"]
    actions = [
        start_bots,
        start_bots_confirming_live,
        pause_bots,
        stop_bots_keeping_positions,
        stop_bots_closing_positions,
    ]
    readonly_fields = ["owner", "status", "status_reason", "last_tick_at", "recent_ticks"]
    fieldsets = [
        (None, {"fields": ["name", "owner", "capital", "broker_account", "confirm_live"]}),
        ("Status", {"fields": ["status", "status_reason", "last_tick_at"]}),
        (
            "Trading",
            {
                "fields": [
                    "symbols",
                    "timeframe",
                    "trading_frequency",
                    "signal_mode",
                    ("start_hour", "start_minute"),
                    ("end_hour", "end_minute"),
                ]
            },
        ),
        ("Strategy", {"fields": ["indicators", "risk_management"]}),
        ("Recent ticks (newest first)", {"fields": ["recent_ticks"]}),
    ]

    def get_queryset(self, request):
        return selectors.bots_with_stats(super().get_queryset(request))

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        # A new bot belongs to whoever creates it.
        return type(form.__name__, (form,), {"default_owner": request.user})

    def save_model(self, request, obj, form, change):
        account = form.cleaned_data["broker_account"]
        confirm_live = form.cleaned_data["confirm_live"]
        if change:
            services.bot_update(bot=obj, config=form.config, broker_account=account, confirm_live=confirm_live)
        else:
            _became_saved(
                obj,
                services.bot_create(
                    owner=request.user, config=form.config, broker_account=account, confirm_live=confirm_live
                ),
            )

    def delete_model(self, request, obj):
        services.bot_delete(bot=obj)

    @admin.display(description="status", ordering="status")
    def status_badge(self, bot: Bot) -> str:
        return format_html(
            '<span class="bot-status bot-status-{}" title="{}">{}</span>', bot.status, bot.status_reason, bot.status
        )

    @admin.display(description="open positions", ordering="open_positions")
    def open_positions(self, bot: Bot) -> int:
        return bot.open_positions

    @admin.display(description="P&L today", ordering="pnl_today")
    def pnl_today(self, bot: Bot) -> str:
        return f"{bot.pnl_today:,.2f}"

    @admin.display(description="recent ticks")
    def recent_ticks(self, bot: Bot) -> str:
        if not bot.pk:
            return "-"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    f"{log.started_at.astimezone(EXCHANGE_TZ):%Y-%m-%d %H:%M:%S %Z}",
                    log.outcome,
                    log.message,
                    _decisions_text(log.decisions),
                )
                for log in bot.tick_logs.all()[:RECENT_TICKS]
            ),
        )
        return format_html(
            "<table><thead><tr><th>started</th><th>outcome</th><th>message</th><th>decisions</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            rows or mark_safe('<tr><td colspan="4">no ticks yet</td></tr>'),
        )


def _decisions_text(decisions: list[dict]) -> str:
    return "; ".join(
        f"{d.get('symbol')}: {d.get('action')} {d.get('quantity') or ''} ({d.get('reason')})" for d in decisions
    )


@admin.register(BrokerAccount)
class BrokerAccountAdmin(OwnedAdmin):
    form = BrokerAccountForm
    conflict_field = "paper"  # broker_account_update refuses switching paper/live under open positions
    list_display = ["name", "kind", "mode", "credentials", "is_default", "created_at"]
    list_filter = ["kind", "paper"]
    search_fields = ["name"]
    fields = [
        "name",
        "kind",
        "paper",
        "confirm_live",
        "api_key",
        "secret_key",
        "credentials",
        "base_url",
        "data_url",
        "data_feed",
        "sim_slippage",
        "sim_commission",
        "is_default",
    ]
    # What the services take from the form; `kind` only on creation.
    service_fields = ACCOUNT_FIELDS

    def get_readonly_fields(self, request, obj=None):
        # An account's kind is fixed: its bots' positions are held at that broker.
        return ["credentials", "is_default", *(["kind"] if obj else [])]

    def save_model(self, request, obj, form, change):
        values = {name: form.cleaned_data[name] for name in self.service_fields}
        if change:
            services.broker_account_update(account=obj, **values)
        else:
            _became_saved(
                obj, services.broker_account_create(owner=request.user, kind=form.cleaned_data["kind"], **values)
            )

    def delete_model(self, request, obj):
        services.broker_account_delete(account=obj)

    @admin.display(description="mode", ordering="paper")
    def mode(self, account: BrokerAccount) -> str:
        return "paper" if account.paper else format_html("<strong>{}</strong>", "LIVE (real money)")

    @admin.display(description="API keys")
    def credentials(self, account: BrokerAccount) -> str:
        if not account.has_credentials:
            return "not set"
        if not account.keys_readable:
            return format_html("<strong>{}</strong>", "cannot be decrypted: enter the keys again")
        return "saved"


@admin.register(BrokerStop)
class BrokerStopAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """The stops resting at Alpaca (bots with risk_management.stop_at_broker), as the services keep them."""

    list_display = ["client_order_id", "position", "status", "quantity", "stop_price", "message", "updated_at"]
    list_filter = ["status"]
    list_select_related = ["position"]
    search_fields = ["client_order_id", "position__symbol", "position__bot_name"]

    def get_queryset(self, request):
        # Owned through their position: each person sees the stops of their own positions.
        rows = super().get_queryset(request)
        return rows if request.user.is_superuser else rows.filter(position__owner=request.user)
