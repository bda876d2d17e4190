from django.urls import path

from kreide.timetable import plans, views

app_name = "timetable"
urlpatterns = [
    path("", views.my_day, name="my_day"),
    path("week/", views.my_week, name="my_week"),
    path("browse/", views.browse, name="browse"),
    path("class/<id:pk>/", views.target_week, {"kind": plans.GROUP}, name="group"),
    path("teacher/<id:pk>/", views.target_week, {"kind": plans.TEACHER}, name="teacher"),
    path("room/<id:pk>/", views.target_week, {"kind": plans.ROOM}, name="room"),
    path("substitutions/", views.school_plan, name="school_plan"),
    path("manage/", views.manage, name="manage"),
    path("manage/import/", views.upload, name="upload"),
    path("manage/screen/", views.renew_screen, name="renew_screen"),
    path("screen/<str:token>/", views.screen, name="screen"),
    path("calendar/", views.calendar, name="calendar"),
    path("calendar/new/", views.new_event, name="new_event"),
    path("calendar/<id:pk>/delete/", views.delete_event, name="delete_event"),
    path("calendar/subscription/", views.subscription, name="subscription"),
    path("calendar/settings/", views.calendar_settings, name="calendar_settings"),
    path("calendar/feed/<str:token>.ics", views.feed, name="feed"),
]
