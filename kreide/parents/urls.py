from django.urls import path

from kreide.parents import views

app_name = "parents"

urlpatterns = [
    path("", views.home, name="home"),
    path("child/<id:pk>/", views.child, name="child"),
    path("child/<id:pk>/absence/", views.report_absence, name="report_absence"),
    path("add-child/", views.add_child, name="add_child"),
    path("join/", views.join, name="join"),
    path("absences/", views.absences, name="absences"),
    path("absences/<id:pk>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("office/", views.office, name="office"),
    path("office/links/<id:pk>/remove/", views.office_unlink, name="office_unlink"),
    path("office/invitations/", views.office_invite, name="office_invite"),
]
