from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods
from oauth2_provider import views as toolkit
from oauth2_provider.settings import oauth2_settings

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


class ClientForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=255)
    redirect_uris = forms.CharField(
        label=gettext_lazy("Return addresses"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "One address per line, exactly as the tool names it, e.g. "
            "https://moodle.example/admin/oauth2callback.php."
        ),
    )
    post_logout_uris = forms.CharField(
        label=gettext_lazy("Addresses after signing out (optional)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("Where Kreide may send people back after signing out."),
    )
    # PKCE stays on unless someone ticks this: a form without the field keeps it on.
    without_pkce = forms.BooleanField(
        label=gettext_lazy("The tool cannot send a PKCE code challenge: switch PKCE off"),
        required=False,
        help_text=gettext_lazy("Only for tools that need it, such as Moodle and Greenlight."),
    )

    def _checked(self, name: str, *, required: bool) -> list[str]:
        addresses = self.cleaned_data[name].split()
        try:
            services.check_redirect_uris(addresses, required=required)
        except Refusal as refusal:
            raise forms.ValidationError(str(refusal.message)) from refusal
        return addresses

    def clean_redirect_uris(self) -> list[str]:
        return self._checked("redirect_uris", required=True)

    def clean_post_logout_uris(self) -> list[str]:
        return self._checked("post_logout_uris", required=False)


@school_admin_required
@require_http_methods(["GET", "POST"])
def client_add(request: HttpRequest) -> HttpResponse:
    form = ClientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            client, secret = services.add_client(
                request.user.school,
                data["name"],
                data["redirect_uris"],
                actor=request.user,
                require_pkce=not data["without_pkce"],
                post_logout_redirect_uris=data["post_logout_uris"],
            )
        except Refusal as refusal:
            form.add_error(None, str(refusal.message))
        else:
            # The secret is kept only hashed: this answer is the one time it is shown.
            response = render(
                request,
                "oidc/client_added.html",
                {
                    "client": client,
                    "secret": secret,
                    "issuer": oauth2_settings.oidc_issuer(request),
                },
            )
            response["Cache-Control"] = "no-store"
            return response
    return render(request, "oidc/client_form.html", {"form": form})


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
