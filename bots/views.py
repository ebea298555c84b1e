"""Dashboard pages for bots. Thin: parse input, call one service, render (a partial for HTMX)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from bots import charts, holds, reconciliation, selectors, services
from bots.models import Bot
from bots.setup_form import BotSetupForm
from brokers.base import BrokerError
from engine.presets import PRESETS
from market.status import market_status_now
from positions.models import Position
from tradebot.errors import Conflict, Invalid
from trades.models import Trade

ACTIONS = {"start": services.bot_start, "pause": services.bot_pause, "stop": services.bot_stop}
RECENT_TRADES = 20
RECENT_TICKS = 20


def _bot_for_user(request: HttpRequest, pk: int) -> Bot:
    return get_object_or_404(Bot.objects.for_user(request.user).select_related("broker_account"), pk=pk)


def _bot_list(request: HttpRequest) -> QuerySet:
    bots = Bot.objects.for_user(request.user).select_related("broker_account")
    return selectors.with_open_holds(selectors.bots_with_stats(bots))


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    if request.htmx:
        # A bot changed (see bots/consumers.py): only the summary is reloaded; rows and tables arrive live.
        return render(request, "bots/dashboard.html#summary", {"summary": selectors.summary(user=request.user)})
    positions = list(Position.objects.for_user(request.user).open())
    bots = _bot_list(request)
    context = {
        "bots": bots,
        "chart_choices": chart_choices(bots),
        "trades": Trade.objects.for_user(request.user).order_by("-timestamp", "-id")[:RECENT_TRADES],
        "positions": positions,
        "prices": {position.symbol: position.current_price for position in positions},
        "market": market_status_now(),
        "summary": selectors.summary(user=request.user),
    }
    return render(request, "bots/dashboard.html", context)


@login_required
def bot_list(request: HttpRequest) -> HttpResponse:
    return render(request, "bots/bot_list.html", {"bots": _bot_list(request)})


@login_required
def bot_detail(request: HttpRequest, pk: int) -> HttpResponse:
    bot = _bot_list(request).filter(pk=pk).first()
    if bot is None:
        raise Http404("no such bot")
    if request.htmx:
        # A live event said the bot changed (see bots/consumers.py): the piece that asked reloads.
        return render(request, _piece(request, bot), {"bot": bot, "tick_logs": bot.tick_logs.all()[:RECENT_TICKS]})
    context = {
        "bot": bot,
        "positions": bot.positions.filter(is_open=True),
        "trades": bot.trades.order_by("-timestamp", "-id")[:RECENT_TRADES],
        "tick_logs": bot.tick_logs.all()[:RECENT_TICKS],
        # Whether the bot can trade now, next to its status (the dashboard shows it too).
        "market": market_status_now(),
        "mismatches": selectors.mismatches_open(user=request.user, bot=bot),
        "chart_choices": chart_choices([bot], with_bot=False),
        # Live rows for this bot land in these tables (see bots/consumers.py).
        "trade_rows_id": f"bot-{bot.pk}-trade-rows",
        "position_rows_id": f"bot-{bot.pk}-position-rows",
    }
    return render(request, "bots/bot_detail.html", context)


@login_required
def bot_chart(request: HttpRequest, pk: int) -> JsonResponse:
    """One of the bot's symbols as chart data (bots.charts): ?symbol=, a symbol it trades or holds;
    ?position=, one of its positions in the symbol, open or closed, to draw its levels."""
    bot = _bot_for_user(request, pk)
    symbol = request.GET.get("symbol", "").upper()
    position = None
    if "position" in request.GET:
        position = bot.positions.filter(pk=_int_or_none(request.GET["position"]), symbol=symbol).first()
        if position is None:
            reason = f"not one of {bot.name}'s {symbol} positions"
            return JsonResponse({"field": "position", "reason": reason}, status=422)
    elif symbol not in bot.symbols and not bot.positions.filter(symbol=symbol, is_open=True).exists():
        reason = f"{bot.name} neither trades nor holds {symbol!r}"
        return JsonResponse({"field": "symbol", "reason": reason}, status=422)
    try:
        chart = charts.bot_chart(bot=bot, symbol=symbol, position=position)
    except (BrokerError, Conflict) as exc:
        return JsonResponse({"reason": str(exc)}, status=503)
    if chart is None:
        return JsonResponse({"reason": f"the feed has no bars for {symbol} yet"}, status=404)
    return JsonResponse(chart)


def _int_or_none(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def chart_choices(bots, *, with_bot: bool = True) -> list[dict]:
    """The price charts a picker offers: each symbol of each bot, labelled for a person."""
    return [
        {
            "url": f"{reverse('bots:chart', args=[bot.pk])}?symbol={symbol}",
            "label": f"{bot.name} · {symbol}" if with_bot else symbol,
        }
        for bot in bots
        for symbol in bot.symbols
    ]


@login_required
def bot_new(request: HttpRequest) -> HttpResponse:
    preset = PRESETS.get(request.GET.get("template", ""))
    form = BotSetupForm(request.POST or None, owner=request.user, config=preset.config if preset else None)
    if request.method == "POST" and form.is_valid():
        try:
            bot = services.bot_create(
                owner=request.user,
                config=form.config,
                broker_account=form.cleaned_data["broker_account"],
                confirm_live=form.cleaned_data["confirm_live"],
            )
        except Invalid as exc:
            form.add_service_errors(exc.errors)
        else:
            messages.success(request, f"Created {bot.name}. Start it when you are ready.")
            return redirect("bots:detail", pk=bot.pk)
    context = {"form": form, "presets": PRESETS.values(), "current_preset": preset.key if preset else ""}
    return render(request, "bots/bot_form.html", context)


@login_required
def bot_edit(request: HttpRequest, pk: int) -> HttpResponse:
    bot = _bot_for_user(request, pk)
    form = BotSetupForm(request.POST or None, owner=request.user, bot=bot)
    if request.method == "POST" and form.is_valid():
        try:
            services.bot_update(
                bot=bot,
                config=form.config,
                broker_account=form.cleaned_data["broker_account"],
                confirm_live=form.cleaned_data["confirm_live"],
            )
        except Invalid as exc:
            form.add_service_errors(exc.errors)
        except Conflict as exc:
            form.add_error("broker_account", str(exc))
        else:
            messages.success(request, f"Saved {bot.name}.")
            return redirect("bots:detail", pk=bot.pk)
    return render(request, "bots/bot_form.html", {"form": form, "bot": bot})


@require_POST
@login_required
def bot_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Start, pause or stop. HTMX gets the piece of page that holds the buttons: a list row or the detail panel."""
    bot = _bot_for_user(request, pk)
    choice = {"close": True, "keep": False}.get(request.POST.get("positions", ""))
    options = {"close_positions": choice} if action == "stop" else {}
    if action == "start":
        options = {"confirm_live": request.POST.get("confirm_live") == "yes"}
    try:
        ACTIONS[action](bot=bot, **options)
    except Conflict as exc:
        messages.error(request, f"{bot.name}: {exc}")
    if not request.htmx:
        return redirect("bots:detail", pk=bot.pk)
    bot = _bot_list(request).get(pk=pk)
    return render(request, "bots/bot_list.html#piece_with_messages", {"bot": bot, "piece": _piece(request, bot)})


def _piece(request: HttpRequest, bot: Bot) -> str:
    """The partial of the piece of page showing `bot` that an HTMX request targets: the status panel or
    the tick record on its page, or its row in a list."""
    pieces = {
        f"bot-panel-{bot.pk}": "bots/bot_detail.html#status_panel",
        f"bot-{bot.pk}-ticks": "bots/bot_detail.html#tick_record",
    }
    return pieces.get(request.htmx.target, "bots/bot_list.html#bot_row")


@require_POST
@login_required
def hold_release(request: HttpRequest, pk: int, hold_pk: int) -> HttpResponse:
    """Release a hold on a bot's orders: its next tick may send them again."""
    bot = _bot_for_user(request, pk)
    hold = get_object_or_404(bot.holds, pk=hold_pk)
    holds.hold_release(hold=hold)
    messages.success(request, f"{hold.get_side_display().capitalize()} of {hold.symbol} released.")
    return redirect("bots:detail", pk=bot.pk)


@require_POST
@login_required
def mismatch_fix(request: HttpRequest, pk: int) -> HttpResponse:
    """Adopt the broker's quantity, close at the broker, or mark resolved (bots.reconciliation)."""
    mismatch = get_object_or_404(selectors.mismatches_open(user=request.user), pk=pk)
    try:
        fixed = reconciliation.mismatch_fix(mismatch=mismatch, fix=request.POST.get("fix", ""))
    except (Conflict, BrokerError, ValueError) as exc:
        messages.error(request, f"{mismatch.symbol}: {exc}")
    else:
        messages.success(request, f"{mismatch.symbol}: {fixed.resolution}.")
    return redirect(request.POST.get("next") or "positions:list")
