"""News pages: the list, one news with its files, posting and editing, and for parent
letters the parents' confirmation and the author's list of who confirmed."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kreide.accounts.models import User
from kreide.core.confirm import confirm_page
from kreide.core.paging import page_of
from kreide.news import services
from kreide.news.forms import ConfirmForm, NewsForm
from kreide.news.models import News, NewsAttachment
from kreide.news.services import NewsRefusal
from kreide.schools import access
from kreide.storage.downloads import blob_response


def _reader(request: HttpRequest) -> User:
    if not access.participates(request.user):
        raise PermissionDenied
    return request.user


def _managed(request: HttpRequest, pk: int) -> News:
    """News of the user's school they may change (404 for another school's)."""
    user = _reader(request)
    news = get_object_or_404(News.objects.for_school(user.school_id), pk=pk)
    if not services.can_manage(user, news):
        raise PermissionDenied
    return news


def _readable(request: HttpRequest, pk: int) -> News:
    user = _reader(request)
    get_object_or_404(News.objects.for_school(user.school_id), pk=pk)
    return services.readable(user, pk)


@login_required
def index(request: HttpRequest) -> HttpResponse:
    user = _reader(request)
    items = (
        services.visible(user)
        .select_related("author")
        .prefetch_related("attachments__blob", "groups")
    )
    page, query = page_of(request, items, size=20)
    return render(
        request,
        "news/index.html",
        {
            "page": page,
            "query": query,
            "may_post": services.may_post(user),
            "now": timezone.now(),
        },
    )


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    news = _readable(request, pk)
    user = request.user
    return render(
        request,
        "news/detail.html",
        {
            "news": news,
            "attachments": list(news.attachments.select_related("blob")),
            "groups": list(news.groups.all()),
            "to_confirm": services.children_to_confirm(user, news),
            "manages": services.can_manage(user, news),
            "now": timezone.now(),
        },
    )


def _form_page(request: HttpRequest, news: News | None) -> HttpResponse:
    user = _reader(request)
    if not services.may_post(user):
        raise PermissionDenied
    form = NewsForm(request.POST or None, instance=news, author=user)
    if request.method == "POST" and form.is_valid():
        uploads = request.POST.getlist("attachments")
        try:
            if news is None:
                saved = services.post(user, form.draft(), uploads)
            else:
                saved = services.edit(user, news, form.draft(), uploads)
        except NewsRefusal as refusal:
            form.add_error(None, str(refusal.message))
        except PermissionDenied as refused:
            form.add_error(None, str(refused) or _("You cannot post news to this audience."))
        else:
            if saved.published_at > timezone.now():
                messages.success(request, _("The news is scheduled."))
            else:
                messages.success(request, _("The news is published."))
            return redirect("news:detail", pk=saved.pk)
    return render(
        request,
        "news/form.html",
        {
            "form": form,
            "news": news,
            "attachments": list(news.attachments.select_related("blob")) if news else [],
        },
    )


@login_required
def create(request: HttpRequest) -> HttpResponse:
    return _form_page(request, None)


@login_required
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _form_page(request, _managed(request, pk))


@login_required
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    news = _managed(request, pk)
    if request.method != "POST":
        return confirm_page(
            request,
            question=_("Delete this news?"),
            consequence=_("“%(title)s” disappears for everyone, with its files and receipts.")
            % {"title": news.title},
            confirm_label=_("Delete"),
            cancel_url=reverse("news:detail", args=[news.pk]),
        )
    services.delete(request.user, news)
    messages.success(request, _("The news was deleted."))
    return redirect("news:index")


@login_required
def attachment(request: HttpRequest, pk: int, attachment_id: int) -> HttpResponse:
    news = _readable(request, pk)
    found = get_object_or_404(
        NewsAttachment.objects.for_school(news.school_id).select_related("blob"),
        pk=attachment_id,
        news=news,
    )
    return blob_response(found.blob, found.filename)


@login_required
@require_POST
def attachment_delete(request: HttpRequest, pk: int, attachment_id: int) -> HttpResponse:
    news = _managed(request, pk)
    found = get_object_or_404(
        NewsAttachment.objects.for_school(news.school_id), pk=attachment_id, news=news
    )
    found.news = news
    services.remove_attachment(request.user, found)
    messages.success(request, _("The file was removed."))
    return redirect("news:edit", pk=news.pk)


# --- Parent letters ---------------------------------------------------------------------


@login_required
@require_POST
def confirm(request: HttpRequest, pk: int) -> HttpResponse:
    news = _readable(request, pk)
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        raise Http404
    child = access.children_of(request.user).filter(pk=form.cleaned_data["child"]).first()
    if child is None:
        raise PermissionDenied
    try:
        services.confirm(request.user, news, child, form.cleaned_data["choice"])
    except NewsRefusal as refusal:
        messages.error(request, str(refusal.message))
    else:
        messages.success(
            request, _("Thank you: confirmed for %(name)s.") % {"name": child.get_full_name()}
        )
    return redirect("news:detail", pk=news.pk)


def _letter(request: HttpRequest, pk: int) -> News:
    news = _managed(request, pk)
    services.require_author(request.user, news)
    return news


@login_required
def receipts(request: HttpRequest, pk: int) -> HttpResponse:
    news = _letter(request, pk)
    rows = services.letter_children(news)
    confirmed = sum(1 for row in rows if row.receipt)
    return render(
        request,
        "news/receipts.html",
        {
            "news": news,
            "rows": rows,
            "confirmed": confirmed,
            "missing": len(rows) - confirmed,
            "reachable": sum(1 for row in rows if row.receipt is None and row.parents),
        },
    )


@login_required
def receipts_csv(request: HttpRequest, pk: int) -> HttpResponse:
    news = _letter(request, pk)
    response = HttpResponse(
        services.receipts_csv(news, services.letter_children(news)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="elternbrief-{news.pk}.csv"'
    return response


@login_required
@require_POST
def remind(request: HttpRequest, pk: int) -> HttpResponse:
    news = _letter(request, pk)
    try:
        count = services.remind(request.user, news)
    except NewsRefusal as refusal:
        messages.error(request, str(refusal.message))
        return redirect("news:receipts", pk=news.pk)
    if count:
        messages.success(
            request,
            _("%(count)d parents who have not confirmed yet were reminded.") % {"count": count},
        )
    else:
        messages.info(request, _("There is nobody left to remind."))
    return redirect("news:receipts", pk=news.pk)
