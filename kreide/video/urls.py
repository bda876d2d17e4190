from django.urls import path

from kreide.video import views

app_name = "video"
urlpatterns = [
    path("", views.lesson_list, name="list"),
    path("stagger/", views.stagger, name="stagger"),
    path("lib/<str:name>", views.browser_library, name="library"),
    path("<id:pk>/", views.lesson_detail, name="detail"),
    path("<id:pk>/join/", views.join, name="join"),
    path("<id:pk>/admit/", views.admit_api, name="admit"),
    path("<id:pk>/waiting/", views.waiting, name="waiting"),
    path("<id:pk>/room/", views.room, name="room"),
    path("<id:pk>/state/", views.state, name="state"),
    path("<id:pk>/chat/", views.chat, name="chat"),
    path("<id:pk>/hand/", views.hand, name="hand"),
    path("<id:pk>/leave/", views.leave, name="leave"),
    path("<id:pk>/control/<slug:action>/", views.control, name="control"),
]
