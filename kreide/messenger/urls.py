from django.urls import path

from kreide.messenger import views

app_name = "messenger"
urlpatterns: list = [
    path("", views.index, name="index"),
    path("new/", views.room_create, name="create"),
    path("direct/", views.direct_search, name="direct_search"),
    path("direct/<id:user_id>/", views.direct_open, name="direct_open"),
    path("rooms/<id:pk>/", views.room, name="room"),
    path("rooms/<id:pk>/messages", views.room_messages, name="messages"),
    path("rooms/<id:pk>/send", views.room_send, name="send"),
    path("rooms/<id:pk>/read", views.room_read, name="read"),
    path("rooms/<id:pk>/search", views.room_search, name="search"),
    path("rooms/<id:pk>/members/", views.room_members, name="members"),
    path("rooms/<id:pk>/notifications", views.room_notifications, name="notifications"),
    path("message/<id:pk>/edit", views.message_edit, name="edit"),
    path("message/<id:pk>/delete", views.message_delete, name="delete"),
    path("attachments/<id:pk>/download", views.attachment, name="attachment"),
]
