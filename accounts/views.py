"""Settings pages for each person: an overview of their account's security and their API tokens.
(Password, email, two-factor and sessions are allauth's pages; broker accounts are the bots app's.)"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.forms import ApiTokenForm
from accounts.mfa import has_mfa
from accounts.services import api_token_create, api_token_revoke


@login_required
def settings_index(request: HttpRequest) -> HttpResponse:
    return render(request, "account/settings.html", {"mfa_on": has_mfa(request.user)})


@login_required
def token_list(request: HttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST or None)
    secret = None
    if request.method == "POST" and form.is_valid():
        token, secret = api_token_create(
            user=request.user, name=form.cleaned_data["name"], expires_at=form.expires_at()
        )
        # Shown on this answer only (no redirect, no message stored in the session): it is never stored.
        form = ApiTokenForm()
    context = {"form": form, "tokens": request.user.api_tokens.all(), "secret": secret}
    return render(request, "account/tokens.html", context)


@require_POST
@login_required
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(request.user.api_tokens, pk=pk)
    api_token_revoke(token=token)
    messages.success(request, f"Revoked {token.name}: it no longer works, and sockets opened with it are closed.")
    return redirect("account_tokens")
