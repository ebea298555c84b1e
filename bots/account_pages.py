"""A person's broker accounts in their settings: add one, test its connection, rotate its keys, delete it.
Every change goes through bots.services, as in the API and the admin."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from bots import services
from bots.forms import ACCOUNT_FIELDS, BrokerAccountForm
from bots.models import BrokerAccount
from brokers.base import BrokerError
from tradebot.errors import Conflict, Invalid


class KeysForm(forms.Form):
    api_key = forms.CharField(strip=True, widget=forms.PasswordInput(render_value=False))
    secret_key = forms.CharField(strip=True, widget=forms.PasswordInput(render_value=False))
    confirm_live = forms.BooleanField(
        required=False, label="I understand this account trades real money", help_text="Needed for a live account."
    )


def _own(request: HttpRequest):
    # One's own accounts only, superusers included: these are personal settings, not the admin.
    return BrokerAccount.objects.filter(owner=request.user).order_by("name", "id")


def _account(request: HttpRequest, pk: int) -> BrokerAccount:
    return get_object_or_404(_own(request), pk=pk)


@login_required
def account_list(request: HttpRequest) -> HttpResponse:
    services.default_broker_account(request.user)
    accounts = _own(request).annotate(bot_count=Count("bots"))
    return render(request, "bots/broker_accounts.html", {"accounts": accounts})


@login_required
def account_new(request: HttpRequest) -> HttpResponse:
    form = BrokerAccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        values = {name: form.cleaned_data[name] for name in ACCOUNT_FIELDS}
        try:
            account = services.broker_account_create(owner=request.user, kind=form.cleaned_data["kind"], **values)
        except Invalid as exc:
            form.add_service_errors(exc.errors)
        else:
            messages.success(request, f"Added {account.name}. Test its connection below.")
            return redirect("bots:broker_accounts")
    return render(request, "bots/broker_account_form.html", {"form": form})


@login_required
def account_keys(request: HttpRequest, pk: int) -> HttpResponse:
    """New keys for the account (the old ones are replaced; they are never shown)."""
    account = _account(request, pk)
    form = KeysForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.broker_account_update(account=account, **form.cleaned_data)
        except Invalid as exc:
            for error in exc.errors:
                form.add_error(error["field"] if error["field"] in form.fields else None, error["message"])
        else:
            messages.success(request, f"New keys saved for {account.name}.")
            return redirect("bots:broker_accounts")
    return render(request, "bots/broker_account_form.html", {"form": form, "account": account})


@require_POST
@login_required
def account_test(request: HttpRequest, pk: int) -> HttpResponse:
    account = _account(request, pk)
    try:
        info = services.broker_account_check(account=account)
    except (BrokerError, Conflict) as exc:
        messages.error(request, f"{account.name}: the connection failed: {exc}")
    else:
        messages.success(
            request, f"{account.name}: connected; the account is {info.status}, buying power {info.buying_power:,.2f}."
        )
    return redirect("bots:broker_accounts")


@require_POST
@login_required
def account_delete(request: HttpRequest, pk: int) -> HttpResponse:
    account = _account(request, pk)
    try:
        services.broker_account_delete(account=account)
    except Conflict as exc:
        messages.error(request, f"{account.name} is not deleted: {exc}")
    else:
        messages.success(request, f"Deleted {account.name}.")
    return redirect("bots:broker_accounts")
