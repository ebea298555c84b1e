"""The notification settings page: channels, their events, a test button and the delivery log."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.notifications import services
from accounts.notifications.forms import ChannelForm
from accounts.notifications.models import Delivery, NotificationChannel
from tradebot.errors import Invalid

RECENT_DELIVERIES = 50


def _channel_for_user(request: HttpRequest, pk: int) -> NotificationChannel:
    return get_object_or_404(NotificationChannel, pk=pk, owner=request.user)


@login_required
def settings_page(request: HttpRequest) -> HttpResponse:
    form = ChannelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            channel = services.channel_save(
                owner=request.user,
                kind=data["kind"],
                name=data["name"],
                address=data["address"],
                secret=data["secret"],
                events=data["events"],
            )
        except Invalid as exc:
            form.add_service_errors(exc.errors)
        else:
            messages.success(request, f"{channel.name} added: send it a test to check it works.")
            return redirect("notifications:settings")
    context = {
        "form": form,
        "channels": NotificationChannel.objects.filter(owner=request.user),
        "deliveries": Delivery.objects.filter(channel__owner=request.user).select_related("notification", "channel")[
            :RECENT_DELIVERIES
        ],
    }
    return render(request, "accounts/notifications.html", context, status=400 if form.errors else 200)


@require_POST
@login_required
def channel_test(request: HttpRequest, pk: int) -> HttpResponse:
    channel = _channel_for_user(request, pk)
    services.channel_test(channel=channel)
    messages.success(request, f"Test message queued for {channel.name}: its delivery shows below.")
    return redirect("notifications:settings")


@require_POST
@login_required
def channel_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    channel = services.channel_toggle(channel=_channel_for_user(request, pk))
    messages.success(request, f"{channel.name} {'resumed' if channel.is_active else 'paused'}.")
    return redirect("notifications:settings")


@require_POST
@login_required
def channel_delete(request: HttpRequest, pk: int) -> HttpResponse:
    channel = _channel_for_user(request, pk)
    services.channel_delete(channel=channel)
    messages.success(request, f"{channel.name} deleted.")
    return redirect("notifications:settings")
