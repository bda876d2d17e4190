from django.urls import path

from kreide.accounts import school_admin, upstream_office, views
from kreide.schools import views as school_views
from kreide.status import school_office as status_office

app_name = "accounts"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("login/code/", views.login_verify_view, name="login_verify"),
    path("login/provider/<id:pk>/", views.upstream_start, name="upstream_start"),
    path("login/provider/return/", views.upstream_callback, name="upstream_callback"),
    path("logout/", views.logout_view, name="logout"),
    path("password/", views.password_change_view, name="password_change"),
    path("two-factor/", views.two_factor_view, name="two_factor"),
    path("my-classes/", school_admin.my_classes, name="my_classes"),
    path("users/<id:pk>/reset-password/", school_admin.password_reset, name="password_reset"),
    path("groups/<id:pk>/reprint-slips/", school_admin.reprint_slips, name="reprint_slips"),
    path("credentials/<str:token>/", school_admin.credentials_page, name="credentials"),
    path("credentials/<str:token>/slips.pdf", school_admin.credentials_pdf, name="credentials_pdf"),
    # The school office (school admins of the signed-in user's school only).
    path("admin/users/", school_admin.user_list, name="user_list"),
    path("admin/users/new/", school_admin.user_create, name="user_create"),
    path("admin/users/<id:pk>/", school_admin.user_edit, name="user_edit"),
    path("admin/users/<id:pk>/active/", school_admin.user_set_active, name="user_set_active"),
    path(
        "admin/users/<id:pk>/two-factor/",
        school_admin.user_reset_two_factor,
        name="user_reset_two_factor",
    ),
    path("admin/users/<id:pk>/external-id/", upstream_office.external_id, name="user_external_id"),
    path("admin/sign-in-providers/", upstream_office.provider_list, name="providers"),
    path("admin/sign-in-providers/new/", upstream_office.provider_edit, name="provider_new"),
    path("admin/sign-in-providers/<id:pk>/", upstream_office.provider_edit, name="provider_edit"),
    path(
        "admin/sign-in-providers/<id:pk>/remove/",
        upstream_office.provider_remove,
        name="provider_remove",
    ),
    path("admin/import/", school_admin.import_view, name="import"),
    path("admin/audit/", school_admin.audit_log, name="audit"),
    path("admin/settings/", school_views.school_settings, name="settings"),
    path("admin/incidents/", status_office.incidents, name="incidents"),
    path("admin/incidents/<id:pk>/resolve/", status_office.incident_close, name="incident_close"),
    path("admin/groups/", school_views.group_list, name="group_list"),
    path("admin/groups/new/", school_views.group_create, name="group_create"),
    path("admin/groups/<id:pk>/", school_views.group_edit, name="group_edit"),
    path("admin/groups/<id:pk>/members/", school_views.group_add_members, name="group_add_members"),
    path(
        "admin/groups/<id:pk>/members/<id:user_pk>/remove/",
        school_views.group_remove_member,
        name="group_remove_member",
    ),
    path("admin/groups/<id:pk>/active/", school_views.group_set_active, name="group_set_active"),
]
