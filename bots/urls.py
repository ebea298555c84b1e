from django.urls import path

from bots import account_pages, live, views

app_name = "bots"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("bots/", views.bot_list, name="list"),
    path("bots/new/", views.bot_new, name="new"),
    path("bots/<int:pk>/", views.bot_detail, name="detail"),
    path("bots/<int:pk>/edit/", views.bot_edit, name="edit"),
    path("bots/<int:pk>/chart.json", views.bot_chart, name="chart"),
    path("bots/<int:pk>/start/", views.bot_action, {"action": "start"}, name="start"),
    path("bots/<int:pk>/pause/", views.bot_action, {"action": "pause"}, name="pause"),
    path("bots/<int:pk>/stop/", views.bot_action, {"action": "stop"}, name="stop"),
    path("bots/<int:pk>/holds/<int:hold_pk>/release/", views.hold_release, name="release_hold"),
    path("mismatches/<int:pk>/fix/", views.mismatch_fix, name="fix_mismatch"),
    path("live/mark/", live.live_mark, name="live_mark"),
    path("settings/broker-accounts/", account_pages.account_list, name="broker_accounts"),
    path("settings/broker-accounts/new/", account_pages.account_new, name="broker_account_new"),
    path("settings/broker-accounts/<int:pk>/keys/", account_pages.account_keys, name="broker_account_keys"),
    path("settings/broker-accounts/<int:pk>/test/", account_pages.account_test, name="broker_account_test"),
    path("settings/broker-accounts/<int:pk>/delete/", account_pages.account_delete, name="broker_account_delete"),
]
