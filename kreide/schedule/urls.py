from django.urls import path

from kreide.schedule import views

app_name = "schedule"
urlpatterns = [
    path("", views.manage, name="manage"),
    path("<id:pk>/delete/", views.delete, name="delete"),
    path("from-timetable/", views.from_timetable, name="from_timetable"),
]
