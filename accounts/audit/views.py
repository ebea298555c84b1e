"""The trail as its owner sees it: all of the user's, and one bot's (loaded into the bot's page)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.audit.models import AuditEntry

SHOWN = 100


def _entries(request: HttpRequest):
    rows = AuditEntry.objects.all() if request.user.is_superuser else AuditEntry.objects.filter(owner=request.user)
    return rows.select_related("actor")


@login_required
def audit_page(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/audit.html", {"entries": _entries(request)[:SHOWN]})


@login_required
def bot_audit(request: HttpRequest, bot_id: int) -> HttpResponse:
    entries = _entries(request).filter(bot_id=bot_id)[:SHOWN]
    return render(request, "accounts/audit.html#trail", {"entries": entries})
