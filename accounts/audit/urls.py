from django.urls import path

from accounts.audit import views

app_name = "audit"
urlpatterns = [
    path("", views.audit_page, name="list"),
    path("bots/<int:bot_id>/", views.bot_audit, name="bot"),
]
