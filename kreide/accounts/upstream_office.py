"""The school office's sign-in providers (kreide.accounts.upstream) and the accounts'
external IDs. Thin views: every write goes through `upstream`'s services."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kreide.accounts import upstream
from kreide.accounts.models import UpstreamProvider, User
from kreide.core.confirm import confirm_page
from kreide.core.errors import Refusal
from kreide.core.ids import parse_id
from kreide.schools.access import school_admin_required


class ProviderForm(forms.ModelForm):
    issuer = forms.URLField(
        label=gettext_lazy("Issuer"),
        max_length=400,
        assume_scheme="https",
        help_text=UpstreamProvider._meta.get_field("issuer").help_text,
    )
    client_secret = forms.CharField(
        label=gettext_lazy("Client secret"),
        required=False,
        strip=True,
        max_length=1000,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=gettext_lazy(
            "Stored enciphered and never shown again. Empty keeps the stored one."
        ),
    )

    class Meta:
        model = UpstreamProvider
        fields = [
            "name",
            "issuer",
            "client_id",
            "client_secret",
            "scopes",
            "claim",
            "create_accounts",
            "new_account_role",
            "enabled",
        ]

    def clean_issuer(self) -> str:
        issuer = self.cleaned_data["issuer"]
        try:
            upstream.check_issuer_address(issuer)
        except Refusal as refusal:
            raise ValidationError(refusal.message) from refusal
        return issuer

    def clean_scopes(self) -> str:
        scopes = " ".join(self.cleaned_data["scopes"].split())
        if "openid" not in scopes.split():
            raise ValidationError(_("The scopes must include openid."))
        return scopes

    def clean(self):
        cleaned = super().clean()
        if not self.instance.secret_sealed and not cleaned.get("client_secret"):
            self.add_error("client_secret", _("Enter the client secret the provider gave you."))
        return cleaned


def _provider(request: HttpRequest, pk: int) -> UpstreamProvider:
    return get_object_or_404(upstream.providers_of(request.user.school), pk=pk)


@school_admin_required
def provider_list(request: HttpRequest) -> HttpResponse:
    providers = upstream.providers_of(request.user.school).order_by("name")
    return render(
        request,
        "accounts/admin/providers.html",
        {
            "providers": providers,
            "callback": request.build_absolute_uri(reverse("accounts:upstream_callback")),
            "login_url": request.build_absolute_uri(reverse("accounts:login"))
            + f"?school={request.user.school.slug}",
        },
    )


@school_admin_required
def provider_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    school = request.user.school
    # The form fills its own copy; the service compares against the stored row.
    shown = _provider(request, pk) if pk else UpstreamProvider(school=school)
    form = ProviderForm(request.POST or None, instance=shown)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            upstream.save_provider(
                request.user,
                _provider(request, pk) if pk else UpstreamProvider(school=school),
                secret=data["client_secret"] or None,
                **{name: data[name] for name in form.Meta.fields if name != "client_secret"},
            )
        except ValidationError as error:
            form.add_error(None, error)
        except Refusal as refusal:
            form.add_error(None, str(refusal.message))
        else:
            messages.success(request, _("%(name)s is saved.") % {"name": data["name"]})
            return redirect("accounts:providers")
    return render(
        request,
        "accounts/admin/provider_form.html",
        {
            "form": form,
            "provider": shown if pk else None,
            "callback": request.build_absolute_uri(reverse("accounts:upstream_callback")),
        },
    )


@school_admin_required
def provider_remove(request: HttpRequest, pk: int) -> HttpResponse:
    provider = _provider(request, pk)
    if request.method != "POST":
        return confirm_page(
            request,
            question=_("Remove %(name)s?") % {"name": provider.name},
            consequence=_(
                "Nobody can sign in through it any more, and the accounts' external IDs for it "
                "are removed. The accounts stay."
            ),
            confirm_label=_("Remove"),
            cancel_url=reverse("accounts:providers"),
        )
    upstream.remove_provider(request.user, provider)
    messages.success(request, _("%(name)s is removed.") % {"name": provider.name})
    return redirect("accounts:providers")


def identities_of(user: User) -> list[tuple[UpstreamProvider, str]]:
    """Each provider of the account's school with the account's external ID there."""
    providers = list(upstream.providers_of(user.school_id).order_by("name"))
    linked = dict(
        user.external_identities.filter(school_id=user.school_id).values_list(
            "provider_id", "value"
        )
    )
    return [(provider, linked.get(provider.pk, "")) for provider in providers]


@school_admin_required
@require_POST
def external_id(request: HttpRequest, pk: int) -> HttpResponse:
    school = request.user.school
    user = get_object_or_404(User.objects.for_school(school), pk=pk)
    try:
        provider = _provider(request, parse_id(request.POST.get("provider")))
    except ValueError as error:
        raise Http404 from error
    value = request.POST.get("value", "")[:255]
    try:
        upstream.set_external_id(request.user, user, provider, value)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    except Refusal as refusal:
        messages.error(request, str(refusal.message))
    else:
        if value.strip():
            messages.success(request, _("The external ID is saved."))
        else:
            messages.success(request, _("The external ID is removed."))
    return redirect("accounts:user_edit", pk=user.pk)
