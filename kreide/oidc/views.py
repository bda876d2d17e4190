from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from oauth2_provider import views as toolkit

from kreide.core.confirm import confirm_page
from kreide.core.errors import Refusal
from kreide.oidc import keys, services
from kreide.oidc.models import Client
from kreide.schools.access import school_admin_required


class AuthorizationView(toolkit.AuthorizationView):
    """The toolkit's authorization endpoint behind Kreide's own sign-in page (lockout,
    two-factor, forced password change), for accounts of the client's school only."""

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated:
            client_id = request.POST.get("client_id") or request.GET.get("client_id")
            services.check_school(Client.objects.filter(client_id=client_id).first(), request.user)
        return super().dispatch(request, *args, **kwargs)


def jwks(request: HttpRequest) -> JsonResponse:
    response = JsonResponse(keys.jwks())
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "public, max-age=3600"
    return response


@school_admin_required
def client_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "oidc/clients.html",
        {"clients": services.clients_of(request.user.school)},
    )


@school_admin_required
@require_http_methods(["GET", "POST"])
def client_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    client = services.clients_of(request.user.school).filter(pk=pk).first()
    if client is None:
        messages.info(request, _("This sign-in client does not exist (any more)."))
        return redirect("oidc:clients")
    if request.method != "POST":
        return confirm_page(
            request,
            question=_("Revoke %(name)s?") % {"name": client.name},
            consequence=_("Nobody can sign in to it through Kreide any more; its sessions end."),
            confirm_label=_("Revoke"),
            cancel_url=reverse("oidc:clients"),
        )
    try:
        services.revoke_client(request.user.school, pk, actor=request.user)
    except Refusal as refusal:
        messages.info(request, refusal.message)
    else:
        messages.success(request, _("%(name)s is revoked.") % {"name": client.name})
    return redirect("oidc:clients")
