from django.contrib import admin
from django.urls import include, path, re_path
from django.views.i18n import JavaScriptCatalog

from kreide.core import views as core_views
from kreide.core.resolving import KeptResolver
from kreide.oidc.urls import office_patterns, provider_patterns
from kreide.timetable import caldav_server

# One pattern holding them all: each path's match is kept (kreide.core.resolving).
urlpatterns = [
    KeptResolver(
        [
            path("healthz", core_views.healthz, name="healthz"),
            path("readyz", core_views.readyz, name="readyz"),
            path("metrics", core_views.metrics, name="metrics"),
            path("favicon.ico", core_views.favicon),
            path("i18n/", include("django.conf.urls.i18n")),
            path("i18n/catalog.js", JavaScriptCatalog.as_view(), name="javascript-catalog"),
            path("accounts/", include("kreide.accounts.urls")),
            path("tasks/", include("kreide.tasks.urls")),
            path("api/", include("kreide.api.urls")),
            path("files/", include("kreide.files.urls")),
            path("dav/", include("kreide.files.dav_urls")),
            path("messages/", include("kreide.messenger.urls")),
            path("mail/", include("kreide.mail.urls")),
            path("video/", include("kreide.video.urls")),
            path("uploads/", include("kreide.storage.urls")),
            path("status", include("kreide.status.urls")),
            path("schedule/", include("kreide.schedule.urls")),
            path("timetable/", include("kreide.timetable.urls")),
            path("parents/", include("kreide.parents.urls")),
            path("news/", include("kreide.news.urls")),
            path("notifications/", include("kreide.notifications.urls")),
            path("privacy/", include("kreide.privacy.urls")),
            path("", include("kreide.schoolyear.urls")),
            path(".well-known/caldav", caldav_server.well_known, name="well_known_caldav"),
            re_path(r"^caldav/(?P<path>.*)$", caldav_server.caldav, name="caldav"),
            path("", include((provider_patterns, "oauth2_provider"))),
            path("accounts/admin/sso/", include((office_patterns, "oidc"))),
            path("operator/", admin.site.urls),
            path("", include("kreide.dashboard.urls")),
        ]
    )
]

handler400 = "kreide.core.errors.bad_request"
handler403 = "kreide.core.errors.permission_denied"
handler404 = "kreide.core.errors.page_not_found"
handler500 = "kreide.core.errors.server_error"
