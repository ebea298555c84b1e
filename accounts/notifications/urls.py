from django.urls import path

from accounts.notifications import views

app_name = "notifications"
urlpatterns = [
    path("", views.settings_page, name="settings"),
    path("<int:pk>/test/", views.channel_test, name="test"),
    path("<int:pk>/toggle/", views.channel_toggle, name="toggle"),
    path("<int:pk>/delete/", views.channel_delete, name="delete"),
]
