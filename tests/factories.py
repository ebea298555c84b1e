"""Factories for test data. A bot's configuration always goes through the one schema."""

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from bots.models import Bot, BrokerAccount
from engine.config import EXAMPLE_CONFIG, BotConfig
from positions.models import Position
from trades.models import Trade

DESIGN_CONFIG = EXAMPLE_CONFIG


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"trader{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct horse battery staple")

    @factory.post_generation
    def verified_email(user, create, extracted, **kwargs):
        """Its email counts as verified (pass verified_email=False for one still to verify)."""
        if create and user.email and extracted is not False:
            from allauth.account.models import EmailAddress

            EmailAddress.objects.get_or_create(
                user=user, email=user.email, defaults={"verified": True, "primary": True}
            )


class BrokerAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BrokerAccount

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Paper {n}")
    kind = BrokerAccount.Kind.SIM
    paper = True
    sim_slippage = Decimal("0")
    sim_commission = Decimal("0")


class BotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Bot

    owner = factory.SubFactory(UserFactory)
    broker_account = factory.LazyAttribute(lambda bot: BrokerAccountFactory(owner=bot.owner))
    name = factory.Sequence(lambda n: f"Bot {n}")

    @classmethod
    def _create(cls, model_class, *args, config=None, **kwargs):
        data = dict(DESIGN_CONFIG if config is None else config)
        data["name"] = kwargs.pop("name")
        bot = model_class(**kwargs)
        bot.apply_config(BotConfig.model_validate(data))
        for key, value in kwargs.items():
            setattr(bot, key, value)
        bot.save()
        return bot


class PositionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Position

    bot = factory.SubFactory(BotFactory)
    owner = factory.LazyAttribute(lambda p: p.bot.owner)
    bot_name = factory.LazyAttribute(lambda p: p.bot.name)
    symbol = "AAPL"
    quantity = 10
    entry_price = Decimal("100")
    current_price = Decimal("100")
    opened_at = factory.LazyFunction(timezone.now)


class TradeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Trade

    bot = factory.SubFactory(BotFactory)
    owner = factory.LazyAttribute(lambda t: t.bot.owner)
    bot_name = factory.LazyAttribute(lambda t: t.bot.name)
    symbol = "AAPL"
    type = Trade.Type.BUY
    quantity = 10
    price = Decimal("100")
    timestamp = factory.LazyFunction(timezone.now)
    client_order_id = factory.Sequence(lambda n: f"tb-test-{n}")
    status = Trade.Status.FILLED


def bot_form_data(account, **changes) -> dict:
    """What a person submits in the bot form (the dashboard and the admin share the form)."""
    data = {
        "name": "Form bot",
        "capital": "5000",
        "broker_account": account.pk,
        "symbols": "aapl, MSFT",
        "timeframe": "1Min",
        "trading_frequency": "60",
        "signal_mode": "majority",
        "indicators": '{"RSI": {"period": 14, "oversold": 30, "overbought": 70}}',
        "risk_management": '{"stop_loss": 0.02}',
        "start_hour": "9",
        "start_minute": "30",
        "end_hour": "16",
        "end_minute": "0",
    }
    return data | changes


def bot_page_form_data(account, **changes) -> dict:
    """What a person submits in the pages' bot form (bots.setup_form): RSI with its defaults, a 2 % stop."""
    data = {
        "name": "Form bot",
        "capital": "5000",
        "broker_account": account.pk,
        "symbols": "aapl, MSFT",
        "timeframe": "1Min",
        "trading_frequency": "60",
        "signal_mode": "majority",
        "ind_RSI": "on",
        "ind_RSI_period": "14",
        "ind_RSI_oversold": "30",
        "ind_RSI_overbought": "70",
        "risk_stop_loss": "2",
        "start_time": "09:30",
        "end_time": "16:00",
    }
    return data | changes


def with_totp(user) -> str:
    """Turn on the user's authenticator-app second factor (as its setup page does); returns its secret."""
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret
