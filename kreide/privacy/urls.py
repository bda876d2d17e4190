from django.urls import path

from kreide.privacy import views

app_name = "privacy"
urlpatterns = [
    path("", views.mine, name="mine"),
    path("people/<id:pk>/copies/", views.copies, name="copies"),
    path("copies/<id:pk>/download/", views.download, name="download"),
    path("office/", views.office, name="overview"),
    path("office/dry-run/", views.office_dry_run, name="office_dry_run"),
    path("office/people/<id:pk>/", views.person, name="person"),
    path("office/people/<id:pk>/erase/", views.erase, name="erase"),
]
