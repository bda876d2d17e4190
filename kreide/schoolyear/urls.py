from django.urls import path

from kreide.schoolyear import views

app_name = "schoolyear"
urlpatterns = [
    path("accounts/admin/school-year/", views.office, name="school_year"),
    path("accounts/admin/school-year/classes/<id:pk>/", views.class_rule, name="class_rule"),
    path("accounts/admin/school-year/rollover/", views.rollover, name="rollover"),
    path("accounts/admin/sis-sync/", views.sync, name="sync"),
    path("archive/", views.archives, name="archives"),
    path("archive/<id:pk>/", views.archive_detail, name="archive"),
    path("archive/<id:pk>/files/<id:node>/", views.archive_file, name="archive_file"),
]
