app_name = "video"
urlpatterns: list = []
