from django.urls import path

from kreide.status import views

app_name = "status"
urlpatterns = [path("", views.status_page, name="page")]
