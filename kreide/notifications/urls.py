from django.urls import path

from kreide.notifications import views

app_name = "notifications"

urlpatterns = [
    path("", views.index, name="index"),
    path("<id:pk>/open/", views.open_one, name="open"),
    path("read/", views.read_all, name="read_all"),
]
