from django.urls import path

from kreide.video import views

app_name = "video"
urlpatterns = [
    path("", views.lesson_list, name="list"),
    path("stagger/", views.stagger, name="stagger"),
    path("lib/<str:name>", views.browser_library, name="library"),
    path("<int:pk>/", views.lesson_detail, name="detail"),
    path("<int:pk>/join/", views.join, name="join"),
    path("<int:pk>/admit/", views.admit_api, name="admit"),
    path("<int:pk>/waiting/", views.waiting, name="waiting"),
    path("<int:pk>/room/", views.room, name="room"),
    path("<int:pk>/state/", views.state, name="state"),
    path("<int:pk>/chat/", views.chat, name="chat"),
    path("<int:pk>/hand/", views.hand, name="hand"),
    path("<int:pk>/leave/", views.leave, name="leave"),
    path("<int:pk>/control/<slug:action>/", views.control, name="control"),
]
