"""POST /api/v1/timetable/import: an export job pushes the school's Untis or CSV export.

Registered with the API (apps.py: its route and its part of the OpenAPI document), but
authenticated by the school's import key (`Authorization: Bearer <key>`, made by a school
admin on /timetable/manage/) rather than a person's token or session: the export job acts
for the school, not for anyone, so CSRF does not apply. Query parameters:
`format` (untis, csv), `dry_run=1` (answer the diff, change nothing), `from`/`to` (the
days the substitution file covers). The answer is the diff as JSON; problems are a 400
listing every line.
"""

from __future__ import annotations

from datetime import date

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from kreide.core.admission import heavy
from kreide.timetable import importing, services


def _report(report: services.ImportReport) -> dict:
    return {
        "applied": report.applied,
        "changed": report.changed,
        "lessons_added": [str(change) for change in report.lessons_added],
        "lessons_removed": [str(change) for change in report.lessons_removed],
        "substitutions_added": [str(change) for change in report.substitutions_added],
        "substitutions_removed": [str(change) for change in report.substitutions_removed],
        "new_subjects": report.new_subjects,
        "new_rooms": report.new_rooms,
        "classes_affected": report.classes_affected,
        "teachers_affected": report.teachers_affected,
        "students_affected": report.students_affected,
        "skipped_lines": report.skipped,
    }


@heavy  # an import: admitted last and few at once under load
@csrf_exempt
def push(request: HttpRequest) -> JsonResponse:
    if request.method != "POST":
        return JsonResponse(
            {"detail": _("Method not allowed.")}, status=405, headers={"Allow": "POST"}
        )
    kind, _space, secret = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    school = services.school_for_import_key(secret.strip()) if kind.lower() == "bearer" else None
    if school is None:
        return JsonResponse(
            {"detail": _("Send the school's import key: Authorization: Bearer <key>.")},
            status=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    format = request.GET.get("format", "untis")
    uploads = [upload for name in request.FILES for upload in request.FILES.getlist(name)]
    problem = importing.upload_problem(uploads)
    window = None
    try:
        if request.GET.get("from") or request.GET.get("to"):
            window = (
                date.fromisoformat(request.GET["from"]),
                date.fromisoformat(request.GET["to"]),
            )
    except (KeyError, ValueError):
        problem = _("Give both from and to as YYYY-MM-DD.")
    if format not in ("untis", "csv"):
        problem = _("The format is untis or csv.")
    if problem:
        return JsonResponse({"detail": problem}, status=400)
    files = {upload.name: upload.read() for upload in uploads}
    try:
        report = services.import_timetable(
            school,
            importing.parse(files, format),
            apply=request.GET.get("dry_run") not in ("1", "true"),
            window=window,
        )
    except importing.TimetableImportError as error:
        return JsonResponse(
            {
                "detail": _("Nothing was imported."),
                "problems": [str(problem) for problem in error.problems],
            },
            status=400,
        )
    return JsonResponse(_report(report))


urlpatterns = [path("import", push, name="timetable_push")]

PATHS = {
    "/api/v1/timetable/import": {
        "post": {
            "summary": "Push the school's timetable export (Untis GPU files or Kreide's CSV) "
            "as multipart files; answers the diff",
            "security": [{"importKey": []}],
            "parameters": [
                {
                    "name": "format",
                    "in": "query",
                    "schema": {"type": "string", "enum": ["untis", "csv"], "default": "untis"},
                },
                {"name": "dry_run", "in": "query", "schema": {"type": "string", "enum": ["1"]}},
                {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
                {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}},
            ],
            "requestBody": {
                "content": {"multipart/form-data": {"schema": {"type": "object"}}},
            },
            "responses": {
                "200": {
                    "description": "The diff (applied unless dry_run)",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "400": {"description": "Problems by file and line; nothing imported"},
                "401": {"description": "No valid import key"},
            },
        }
    }
}
SECURITY_SCHEMES = {
    "importKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "The school's timetable import key (made on /timetable/manage/)",
    }
}
