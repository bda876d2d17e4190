from django.urls import path

from kreide.notifications import views

app_name = "notifications"

urlpatterns = [
    path("", views.index, name="index"),
    path("<id:pk>/open/", views.open_one, name="open"),
    path("read/", views.read_all, name="read_all"),
    path("count/", views.count, name="count"),
    path("settings/", views.settings_page, name="settings"),
    path("push/subscribe/", views.push_subscribe, name="push_subscribe"),
    path("push/unsubscribe/", views.push_unsubscribe, name="push_unsubscribe"),
    path("sw.js", views.service_worker, name="service_worker"),
]
