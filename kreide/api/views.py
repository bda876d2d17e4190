"""The API's own endpoints (/api/v1/me, the OpenAPI document) and the page where people
create and revoke their personal API tokens."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kreide.api import registry, services
from kreide.api.auth import api
from kreide.api.models import ApiToken
from kreide.api.openapi import document
from kreide.schools import access


@api("GET")
def me(request: HttpRequest) -> JsonResponse:
    user = request.user
    answer: dict[str, Any] = {
        "id": user.pk,
        "username": user.username,
        "name": user.get_full_name(),
        "role": user.role,
        "school": {"id": user.school_id, "name": user.school.name, "slug": user.school.slug},
        "groups": [
            {"id": m.group_id, "name": m.name, "kind": m.kind, "role": m.role}
            for m in access.memberships_of(request)
        ],
    }
    for part in registry.me_parts:
        answer.update(part(user))
    return JsonResponse(answer)


def openapi(request: HttpRequest) -> JsonResponse:
    return JsonResponse(document())


class TokenForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name (e.g. the script's)"), max_length=100)
    scope = forms.ChoiceField(
        label=gettext_lazy("May"), choices=ApiToken.Scope.choices, initial=ApiToken.Scope.READ
    )


@login_required
def tokens(request: HttpRequest) -> HttpResponse:
    if not access.participates(request.user):
        raise PermissionDenied
    created = None
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        created = services.create_token(
            request.user, form.cleaned_data["name"], form.cleaned_data["scope"]
        )
        form = TokenForm()
    entries = ApiToken.objects.for_school(request.user.school_id).filter(user=request.user)
    return render(
        request,
        "api/tokens.html",
        {
            "form": form,
            "entries": entries,
            "created": created,
            "me_url": request.build_absolute_uri("/api/v1/me"),
        },
    )


@login_required
@require_POST
def revoke(request: HttpRequest, pk: int) -> HttpResponse:
    services.revoke_token(request.user, pk)
    messages.success(request, _("The token no longer works."))
    return redirect("api_tokens")
