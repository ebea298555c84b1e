from django.urls import path

from positions import views

app_name = "positions"

urlpatterns = [
    path("positions/", views.position_list, name="list"),
    path("positions/<int:pk>/", views.position_detail, name="detail"),
    path("positions/<int:pk>/close/", views.position_close_view, name="close"),
]
