from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from bots.models import Bot
from market.cache import clear_caches
from tests.factories import (
    DESIGN_CONFIG,
    BotFactory,
    BrokerAccountFactory,
    PositionFactory,
    TradeFactory,
    UserFactory,
    bot_page_form_data,
)

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


@pytest.mark.parametrize("name", ["bots:dashboard", "bots:list", "bots:new", "trades:list", "positions:list"])
def test_pages_redirect_anonymous_visitors_to_the_login_page(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_a_trader_without_staff_rights_logs_in_and_sees_the_dashboard_but_not_the_admin(client):
    UserFactory(username="plain", is_staff=False)

    page = client.get(reverse("account_login"))
    response = client.post(
        reverse("account_login"), {"login": "plain", "password": "correct horse battery staple", "next": "/"}
    )

    assert page.status_code == 200 and 'name="password"' in page.content.decode()
    assert response.status_code == 302 and response["Location"] == "/"
    dashboard = client.get("/")
    assert dashboard.status_code == 200 and "plain" in dashboard.content.decode()
    assert reverse("admin:index") not in dashboard.content.decode()  # no link to a page that refuses them
    admin = client.get(reverse("admin:index"))
    assert admin.status_code == 302 and admin["Location"].startswith("/admin/login/")
    assert client.get(admin["Location"]).status_code == 403  # signed in, not staff


def test_a_wrong_password_is_refused_on_the_login_page(client):
    UserFactory(username="plain")
    response = client.post(reverse("account_login"), {"login": "plain", "password": "wrong"})
    assert response.status_code == 200
    assert "username and/or password you specified are not correct" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_logging_out_takes_a_post_and_leads_back_to_the_login_page(signed_in):
    assert signed_in.get(reverse("account_logout")).status_code == 200  # a page asking to confirm
    assert signed_in.get("/").status_code == 200
    response = signed_in.post(reverse("account_logout"))
    assert response.status_code == 302 and response["Location"] == reverse("account_login")
    assert signed_in.get("/").status_code == 302


def test_dashboard_shows_the_users_bots_positions_and_trades(signed_in, user):
    bot = BotFactory(owner=user, name="Momentum")
    PositionFactory(bot=bot, symbol="MSFT", current_price="123.456")
    TradeFactory(bot=bot, symbol="NVDA")
    BotFactory(name="Someone else's bot")

    response = signed_in.get(reverse("bots:dashboard"))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Momentum" in html and "MSFT" in html and "NVDA" in html
    assert "123.46" in html  # money has two decimals
    assert "Someone else" not in html
    assert 'ws-connect="/ws/dashboard/"' in html


def test_times_are_shown_in_new_york_time(signed_in, user):
    TradeFactory(bot=BotFactory(owner=user), timestamp=datetime(2024, 7, 1, 14, 30, tzinfo=UTC))
    html = signed_in.get(reverse("trades:list")).content.decode()
    assert "Jul 1, 10:30:00" in html


def test_htmx_start_returns_only_the_bots_row(signed_in, user):
    bot = BotFactory(owner=user)

    response = signed_in.post(reverse("bots:start", args=[bot.pk]), HTTP_HX_TARGET=f"bot-row-{bot.pk}", **HTMX)

    html = response.content.decode()
    bot.refresh_from_db()
    assert bot.status == Bot.Status.RUNNING
    assert "<html" not in html
    assert html.lstrip().startswith(f'<tr id="bot-row-{bot.pk}"')
    assert "badge-running" in html


def test_htmx_action_on_the_detail_page_returns_its_status_panel(signed_in, user):
    bot = BotFactory(owner=user, status=Bot.Status.RUNNING)

    response = signed_in.post(reverse("bots:pause", args=[bot.pk]), HTTP_HX_TARGET=f"bot-panel-{bot.pk}", **HTMX)

    assert response.content.decode().lstrip().startswith(f'<section id="bot-panel-{bot.pk}"')
    assert "badge-paused" in response.content.decode()


def test_a_refused_action_is_reported_and_changes_nothing(signed_in, user):
    bot = BotFactory(owner=user)  # stopped: cannot be paused

    response = signed_in.post(reverse("bots:pause", args=[bot.pk]), HTTP_HX_TARGET=f"bot-row-{bot.pk}", **HTMX)

    bot.refresh_from_db()
    assert bot.status == Bot.Status.STOPPED
    assert "cannot be paused" in response.content.decode()


def test_actions_reject_get(signed_in, user):
    bot = BotFactory(owner=user)
    assert signed_in.get(reverse("bots:start", args=[bot.pk])).status_code == 405


def test_another_users_bot_is_not_found(signed_in):
    bot = BotFactory()
    assert signed_in.get(reverse("bots:detail", args=[bot.pk])).status_code == 404
    assert signed_in.post(reverse("bots:start", args=[bot.pk]), **HTMX).status_code == 404
    bot.refresh_from_db()
    assert bot.status == Bot.Status.STOPPED


def test_creating_a_bot_through_the_form(signed_in, user):
    account = BrokerAccountFactory(owner=user)

    response = signed_in.post(reverse("bots:new"), bot_page_form_data(account))

    bot = Bot.objects.get(owner=user, name="Form bot")
    assert response.status_code == 302 and response["Location"] == reverse("bots:detail", args=[bot.pk])
    assert bot.symbols == ["AAPL", "MSFT"]
    assert bot.broker_account == account
    assert Decimal(bot.risk_management["stop_loss"]) == Decimal("0.02")


def test_form_shows_schema_errors_on_their_fields_and_saves_nothing(signed_in, user):
    account = BrokerAccountFactory(owner=user)
    data = bot_page_form_data(
        account,
        ind_MACD="on",
        ind_MACD_fast="12",
        ind_MACD_slow="10",
        symbols="AAPL, 1BAD",
        capital="0",
    )

    response = signed_in.post(reverse("bots:new"), data)

    form = response.context["form"]
    assert response.status_code == 200
    assert form.errors["ind_MACD_slow"] == ["must be greater than fast (12)"]
    assert "1BAD" in form.errors["symbols"][0]
    assert form.errors["capital"] == ["must be more than 0"]
    assert "must be greater than fast (12)" in response.content.decode()
    assert not Bot.objects.filter(owner=user).exists()


def test_form_reports_unparsable_json_on_its_field(signed_in, user):
    data = bot_page_form_data(BrokerAccountFactory(owner=user), use_json="on", config_json="{RSI")
    response = signed_in.post(reverse("bots:new"), data)

    assert response.context["form"].errors["config_json"][0].startswith("is not valid JSON: Expecting property name")
    assert not Bot.objects.exists()


def test_form_refuses_a_duplicate_name_on_the_name_field(signed_in, user):
    account = BrokerAccountFactory(owner=user)
    BotFactory(owner=user, name="Form bot", broker_account=account)

    response = signed_in.post(reverse("bots:new"), bot_page_form_data(account))

    assert "already have a bot named" in response.context["form"].errors["name"][0]
    assert Bot.objects.filter(owner=user).count() == 1


def test_form_offers_only_the_users_own_broker_accounts(signed_in, user):
    mine = BrokerAccountFactory(owner=user, name="Mine")
    theirs = BrokerAccountFactory(name="Theirs")

    response = signed_in.post(reverse("bots:new"), bot_page_form_data(mine, broker_account=theirs.pk))

    assert "broker_account" in response.context["form"].errors
    assert not Bot.objects.exists()


def test_editing_a_bot_updates_its_configuration(signed_in, user):
    bot = BotFactory(owner=user, name="Old name")

    response = signed_in.post(
        reverse("bots:edit", args=[bot.pk]), bot_page_form_data(bot.broker_account, name="New name", symbols="TSLA")
    )

    bot.refresh_from_db()
    assert response.status_code == 302
    assert (bot.name, bot.symbols) == ("New name", ["TSLA"])


def test_a_bot_with_open_positions_cannot_move_to_another_account(signed_in, user):
    bot = BotFactory(owner=user)
    PositionFactory(bot=bot)
    other = BrokerAccountFactory(owner=user)

    response = signed_in.post(reverse("bots:edit", args=[bot.pk]), bot_page_form_data(other, name=bot.name))

    bot.refresh_from_db()
    assert "close the bot's open positions" in response.context["form"].errors["broker_account"][0]
    assert bot.broker_account_id != other.pk


def test_edit_form_shows_the_stored_configuration(signed_in, user):
    bot = BotFactory(owner=user)
    html = signed_in.get(reverse("bots:edit", args=[bot.pk])).content.decode()
    assert 'value="AAPL MSFT GOOGL"' in html and 'id="id_ind_MACD" checked' in html
    assert "&quot;MACD&quot;: {\n      &quot;fast&quot;: 12" in html  # the advanced view: indented, readable JSON


def test_bot_detail_shows_the_tick_record_with_each_decision_and_reason(signed_in, user):
    bot = BotFactory(owner=user)
    bot.tick_logs.create(
        started_at="2024-07-01T14:30:00Z",
        outcome="idle",
        decisions=[
            {"symbol": "AAPL", "action": "hold", "quantity": 0, "reason": "RSI 55.1 is neutral", "price": "190.5"}
        ],
    )

    html = signed_in.get(reverse("bots:detail", args=[bot.pk])).content.decode()

    assert "RSI 55.1 is neutral" in html
    assert "Jul 1, 10:30:00" in html
    assert DESIGN_CONFIG["symbols"][0] in html


def test_trades_page_filters_by_symbol_and_answers_htmx_with_the_results_only(signed_in, user):
    bot = BotFactory(owner=user)
    TradeFactory(bot=bot, symbol="AAPL")
    TradeFactory(bot=bot, symbol="TSLA")

    response = signed_in.get(reverse("trades:list"), {"symbol": "tsla"}, **HTMX)

    html = response.content.decode()
    assert "<html" not in html and 'id="trade-results"' in html
    assert "TSLA" in html and "AAPL" not in html


def test_trades_page_paginates(signed_in, user):
    bot = BotFactory(owner=user)
    TradeFactory.create_batch(51, bot=bot)
    response = signed_in.get(reverse("trades:list"), {"page": 2})
    assert len(response.context["page"].object_list) == 1


def test_closing_a_position_sells_it_and_returns_the_updated_row(signed_in, user):
    clear_caches()
    position = PositionFactory(bot=BotFactory(owner=user), symbol="AAPL")

    response = signed_in.post(reverse("positions:close", args=[position.pk]), **HTMX)

    html = response.content.decode()
    position.refresh_from_db()
    assert not position.is_open
    assert position.trades.get(type="sell").status == "filled"
    assert html.lstrip().startswith(f'<tr id="position-{position.pk}" class="position closed"')
    assert "Sold 10 AAPL" in html and "<html" not in html


def test_closing_a_closed_position_is_refused_with_a_message(signed_in, user):
    position = PositionFactory(bot=BotFactory(owner=user), is_open=False, closed_at=timezone.now())

    response = signed_in.post(reverse("positions:close", args=[position.pk]), **HTMX)

    assert "already closed" in response.content.decode()
    assert not position.trades.exists()


def test_another_users_position_cannot_be_closed(signed_in):
    position = PositionFactory()
    assert signed_in.post(reverse("positions:close", args=[position.pk]), **HTMX).status_code == 404
    position.refresh_from_db()
    assert position.is_open


def test_positions_page_lists_open_or_closed_positions(signed_in, user):
    bot = BotFactory(owner=user)
    PositionFactory(bot=bot, symbol="OPEN")
    PositionFactory(bot=bot, symbol="SHUT", is_open=False, closed_at=timezone.now(), exit_price="101")

    open_html = signed_in.get(reverse("positions:list")).content.decode()
    closed_html = signed_in.get(reverse("positions:list"), {"state": "closed"}).content.decode()

    assert "OPEN" in open_html and "SHUT" not in open_html
    assert "SHUT" in closed_html and ">OPEN<" not in closed_html


def test_dashboard_shows_the_summary_numbers(signed_in, user):
    bot = BotFactory(owner=user, status=Bot.Status.RUNNING)
    PositionFactory(bot=bot, quantity=10, current_price="110", unrealized_pnl="100")
    TradeFactory(bot=bot, type="sell", profit_loss="25.5", filled_at=timezone.now())

    response = signed_in.get(reverse("bots:dashboard"))

    summary = response.context["summary"]
    html = response.content.decode()
    assert (summary.bots_total, summary.open_positions) == (1, 1)
    assert "worth 1,100.00" in html
    assert "1 running" in html
    assert "125.50" in html  # total P&L: 25.50 realized + 100.00 unrealized
    assert "win rate 100%" in html


def test_a_live_reload_of_the_status_panel_returns_it_alone_with_fresh_figures(signed_in, user):
    bot = BotFactory(owner=user, last_tick_at=datetime(2024, 7, 1, 14, 30, tzinfo=UTC))
    PositionFactory(bot=bot, quantity=10, current_price="110", unrealized_pnl="-5")

    response = signed_in.get(reverse("bots:detail", args=[bot.pk]), HTTP_HX_TARGET=f"bot-panel-{bot.pk}", **HTMX)

    html = response.content.decode()
    assert html.lstrip().startswith(f'<section id="bot-panel-{bot.pk}"') and "<html" not in html
    assert "1 · 1,100.00" in html  # open positions and their value
    assert '<dd class="neg">-5.00</dd>' in html  # P&L today
    assert "Jul 1, 10:30:00" in html  # last tick
    assert 'id="messages"' not in html  # a reload leaves the messages shown alone


def test_a_live_reload_of_the_tick_record_returns_the_newest_ticks(signed_in, user):
    bot = BotFactory(owner=user)
    bot.tick_logs.create(
        started_at=timezone.now(),
        outcome="idle",
        decisions=[{"symbol": "AAPL", "action": "hold", "reason": "RSI 55 is neutral", "price": "190"}],
    )

    response = signed_in.get(reverse("bots:detail", args=[bot.pk]), HTTP_HX_TARGET=f"bot-{bot.pk}-ticks", **HTMX)

    html = response.content.decode()
    assert html.lstrip().startswith(f'<section id="bot-{bot.pk}-ticks"')
    assert "RSI 55 is neutral" in html and "<html" not in html


def test_a_live_reload_of_a_list_row_returns_the_row(signed_in, user):
    bot = BotFactory(owner=user)
    PositionFactory(bot=bot)

    response = signed_in.get(reverse("bots:detail", args=[bot.pk]), HTTP_HX_TARGET=f"bot-row-{bot.pk}", **HTMX)

    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="bot-row-{bot.pk}"')
    assert 'hx-trigger="bot-changed delay:500ms"' in html


def test_the_pieces_showing_a_bot_reload_when_it_changes(signed_in, user):
    bot = BotFactory(owner=user)
    marker = f'<i id="bot-{bot.pk}-changed" class="bot-changed" hidden></i>'

    page = signed_in.get(reverse("bots:detail", args=[bot.pk])).content.decode()
    dashboard = signed_in.get(reverse("bots:dashboard")).content.decode()

    assert page.count(marker) == 1 and dashboard.count(marker) == 1
    assert page.count('hx-trigger="bot-changed') == 2  # the status panel and the tick record
    assert dashboard.count('hx-trigger="bot-changed') == 2  # the bot's row and the summary


def test_a_live_reload_of_the_dashboard_returns_the_summary_alone(signed_in, user):
    PositionFactory(bot=BotFactory(owner=user), quantity=10, current_price="110")

    response = signed_in.get(reverse("bots:dashboard"), **HTMX)

    html = response.content.decode()
    assert html.lstrip().startswith('<section id="summary"') and "<html" not in html
    assert "worth 1,100.00" in html


def test_the_bot_page_says_loudly_when_its_account_trades_real_money(signed_in, user):
    live = BrokerAccountFactory(owner=user, kind="alpaca", paper=False, name="My live")
    html = signed_in.get(reverse("bots:detail", args=[BotFactory(owner=user, broker_account=live).pk])).content.decode()
    assert "My live" in html and "LIVE: real money" in html
    assert 'id="market-status"' in html and "Market " in html  # whether the bot can trade now


def test_bot_detail_links_to_a_backtest_of_that_bot(signed_in, user):
    bot = BotFactory(owner=user)

    html = signed_in.get(reverse("bots:detail", args=[bot.pk])).content.decode()

    assert f'href="{reverse("backtests:new")}?bot={bot.pk}"' in html


def test_a_bots_page_shows_its_holds_and_a_person_can_release_them(signed_in, user):
    from bots.models import BotHold

    bot = BotFactory(owner=user)
    hold = BotHold.objects.create(bot=bot, symbol="AAPL", side="buy", reason="insufficient buying power")

    page = signed_in.get(reverse("bots:detail", args=[bot.pk])).content.decode()
    assert "AAPL:</strong> Entries held since the broker refused: insufficient buying power" in page

    response = signed_in.post(reverse("bots:release_hold", args=[bot.pk, hold.pk]))
    assert response.status_code == 302
    hold.refresh_from_db()
    assert hold.released_at is not None and hold.released_why == "released by hand"
    assert "Entries held since" not in signed_in.get(reverse("bots:detail", args=[bot.pk])).content.decode()


def test_no_one_releases_another_users_hold(signed_in):
    from bots.models import BotHold

    hold = BotHold.objects.create(bot=BotFactory(), symbol="AAPL", side="buy", reason="no")
    assert signed_in.post(reverse("bots:release_hold", args=[hold.bot_id, hold.pk])).status_code == 404
    hold.refresh_from_db()
    assert hold.released_at is None


def test_the_stop_button_of_a_bot_holding_positions_asks_whether_to_close_them(signed_in, user):
    from bots import services

    bot = services.bot_start(bot=BotFactory(owner=user))
    PositionFactory(bot=bot, symbol="AAPL")

    page = signed_in.get(reverse("bots:detail", args=[bot.pk])).content.decode()
    assert "Stop &amp; close positions" in page and "Stop, keep positions" in page

    signed_in.post(reverse("bots:stop", args=[bot.pk]), {"positions": "keep"})
    bot.refresh_from_db()
    assert bot.status == "stopped" and bot.positions.get().is_open


def test_form_refuses_a_stop_at_the_broker_on_a_simulated_account(signed_in, user):
    data = bot_page_form_data(BrokerAccountFactory(owner=user), risk_stop_at_broker="on")

    response = signed_in.post(reverse("bots:new"), data)

    assert response.context["form"].errors["risk_stop_at_broker"] == [
        "needs an Alpaca broker account: the simulated broker keeps no orders resting"
    ]
    assert not Bot.objects.exists()


def test_each_bots_row_shows_its_last_tick_in_new_york_time(signed_in, user):
    BotFactory(owner=user, name="Ticked", last_tick_at=datetime(2024, 7, 1, 14, 30, 5, tzinfo=UTC))
    BotFactory(owner=user, name="Idle")

    html = signed_in.get(reverse("bots:dashboard")).content.decode()

    assert '<td class="time" data-label="Last tick">Jul 1, 10:30:05</td>' in html
    assert '<td class="time" data-label="Last tick">never</td>' in html
