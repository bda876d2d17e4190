from django.urls import path

from kreide.dashboard import views

app_name = "dashboard"
urlpatterns = [path("", views.home, name="home")]
