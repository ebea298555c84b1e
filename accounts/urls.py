from django.urls import path

from accounts import views

urlpatterns = [
    path("settings/", views.settings_index, name="account_settings"),
    path("tokens/", views.token_list, name="account_tokens"),
    path("tokens/<int:pk>/revoke/", views.token_revoke, name="account_token_revoke"),
]
