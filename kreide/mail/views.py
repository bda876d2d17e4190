"""Webmail: thin views over kreide/mail/webmail.py. Every IMAP access is the signed-in
account's own mailbox; when mail is down the pages say so and nothing else is affected."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from functools import lru_cache, wraps
from urllib.parse import quote

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext_lazy, ngettext, pgettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from kreide.mail import maildir, services, webmail
from kreide.mail.webmail import MailUnavailable, SendRefused
from kreide.storage.downloads import content_disposition
from kreide.storage.filenames import safe_filename

MAX_UID = 2**32 - 1  # IMAP UIDs are 32-bit


def mail_view(view):
    """Signed in, in a school; mail down or not set up becomes a plain notice (503)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.school_id is None or kwargs.get("uid", 0) > MAX_UID:
            raise Http404
        try:
            return view(request, *args, **kwargs)
        except MailUnavailable:
            return render(request, "mail/unavailable.html", status=503)

    return wrapper


def _folder(client, request: HttpRequest, names: Collection[str] | None = None) -> str:
    """The folder the request names (INBOX by default); 404 unless it exists. `names`:
    the folders where the caller has listed them already (no second LIST)."""
    folder = request.GET.get("folder") or request.POST.get("folder") or "INBOX"
    if folder not in (webmail.folder_names(client) if names is None else names):
        raise Http404
    return folder


def _page_number(request: HttpRequest) -> int:
    raw = request.GET.get("page", "1")
    return int(raw) if raw.isdigit() and len(raw) < 6 else 1


@mail_view
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()[:200]
    number = _page_number(request)
    user = request.user
    # The domain as the navigation's unread count has it (kept a minute): no query.
    address = services.address_of(user, services.kept_domain(user))
    # The Maildir tells without IMAP whether the mailbox holds no mail at all, or is as it
    # was when this process last listed this folder's page.
    seen = maildir.look(address)
    listing = None
    if seen is not None and seen.empty:
        listing = webmail.EMPTY_FOLDERS, webmail.Page([], number, 0)
    elif seen is not None and not search:
        listing = maildir.kept(seen, request.GET.get("folder") or "INBOX", number)
    if listing is not None:
        folders, page = listing
        listed = {f.name: f for f in folders}
        folder = _folder(None, request, listed)
    else:
        with webmail.mailbox(user) as client:
            folders = webmail.folders(client)
            listed = {f.name: f for f in folders}
            folder = _folder(client, request, listed)
            page = webmail.page(client, folder, number, search, listed[folder].total)
        if seen is not None and not search:
            maildir.keep(seen, folder, number, folders, page)
    inbox_folder = listed.get("INBOX")
    if inbox_folder is not None:
        webmail.remember_unread(user, inbox_folder.unread, request)
    return render(
        request,
        "mail/inbox.html",
        {
            "folder_items": _folder_items(folders, folder),
            "folder": folder,
            "folder_label": listed[folder].label,
            "page": page,
            "rows": _rows(page.messages, folder),
            "search": search,
            "address": address,
        },
    )


# The inbox's folder list and mail rows are built here rather than by template loops:
# a loop's item costs the template engine ~180 Python calls (a folder) to ~700 (a mail
# row: its link, filters and conditions). Escaped by format_html.
_FOLDER_ITEM = '<li><a href="?folder={}"{}>{}</a> {}</li>\n'
_CURRENT = mark_safe(' aria-current="page"')
_BADGE = '<span class="badge warn" aria-label="{}">{}</span>'
_ROW = (
    '<li class="{}">\n<a href="{}">\n<span class="mail-from">{}</span>\n'
    '<span class="mail-subject">{}</span>\n{}\n</a>\n</li>\n'
)
_TIME = '<time datetime="{}">{}</time>'


def _folder_item(language: str, name: str, unread: int, current: bool) -> str:
    """One folder's item in the active `language` (a key for `_special_item`)."""
    badge = ""
    if unread:
        label = ngettext("%(n)s unread", "%(n)s unread", unread) % {"n": unread}
        badge = format_html(_BADGE, label, unread)
    label = webmail.LABELS.get(name, name)
    return format_html(_FOLDER_ITEM, quote(name), _CURRENT if current else "", label, badge)


# The special folders' items are the same for most students (~130 calls each to build);
# a folder a person named is built each time, not kept.
_special_item = lru_cache(maxsize=1024)(_folder_item)


def _folder_items(folders: Sequence[webmail.Folder], current: str) -> SafeString:
    language = get_language()
    items = [
        (_special_item if f.name in webmail.LABELS else _folder_item)(
            language, f.name, f.unread, f.name == current
        )
        for f in folders
    ]
    return mark_safe("".join(items))  # noqa: S308 - each item made by format_html


def _rows(messages: Sequence[webmail.Summary], folder: str) -> SafeString:
    if not messages:
        return SafeString()
    # A mail's address is `<id:uid>/` under the inbox's (kreide/mail/urls.py).
    inbox_url, query = reverse("mail:inbox"), f"?folder={quote(folder)}"
    unknown, untitled = _("(unknown)"), _("(no subject)")
    rows = []
    for item in messages:
        shown = ""
        if item.date:
            local = formats.date_format(item.date, "SHORT_DATETIME_FORMAT")
            shown = format_html(_TIME, item.date.isoformat(), local)
        rows.append(
            format_html(
                _ROW,
                "" if item.seen else "unread",
                f"{inbox_url}{item.uid}/{query}",
                item.sender or unknown,
                item.subject or untitled,
                shown,
            )
        )
    return mark_safe("".join(rows))  # noqa: S308 - each row made by format_html


@mail_view
@require_GET
def message(request: HttpRequest, uid: int) -> HttpResponse:
    show_images = request.GET.get("images") == "1"
    with webmail.mailbox(request.user) as client:
        folder = _folder(client, request)
        found = webmail.read(client, folder, uid, show_images)
        folders = webmail.folders(client)
    if found is None:
        raise Http404
    response = render(
        request,
        "mail/message.html",
        {"message": found, "folder": folder, "folders": folders, "show_images": show_images},
    )
    if show_images:
        # Asked for: this page alone may load the mail's remote images.
        response._csp_update = {"img-src": ["https:", "http:"]}
    return response


@mail_view
@require_GET
def attachment(request: HttpRequest, uid: int, index: int) -> HttpResponse:
    with webmail.mailbox(request.user) as client:
        found = webmail.attachment(client, _folder(client, request), uid, index)
    if found is None:
        raise Http404
    filename, _content_type, content = found
    response = HttpResponse(content, content_type="application/octet-stream")
    response["Content-Disposition"] = content_disposition(safe_filename(filename))
    response["X-Content-Type-Options"] = "nosniff"
    return response


@mail_view
@require_POST
def delete(request: HttpRequest, uid: int) -> HttpResponse:
    with webmail.mailbox(request.user) as client:
        folder = _folder(client, request)
        webmail.delete(client, folder, uid)
    messages.success(request, _("The mail was deleted."))
    return redirect(f"{reverse('mail:inbox')}?{urlencode({'folder': folder})}")


@mail_view
@require_POST
def move(request: HttpRequest, uid: int) -> HttpResponse:
    with webmail.mailbox(request.user) as client:
        folder = _folder(client, request)
        target = request.POST.get("target", "")
        if target not in webmail.folder_names(client):
            raise Http404
        webmail.move_to(client, folder, uid, target)
    messages.success(request, _("The mail was moved."))
    return redirect(f"{reverse('mail:inbox')}?{urlencode({'folder': folder})}")


class ComposeForm(forms.Form):
    to = forms.CharField(label=gettext_lazy("To"), max_length=5000)
    cc = forms.CharField(label=gettext_lazy("Cc"), max_length=5000, required=False)
    subject = forms.CharField(
        label=pgettext_lazy("mail", "Subject"), max_length=500, required=False
    )
    body = forms.CharField(
        label=gettext_lazy("Text"), widget=forms.Textarea, max_length=500_000, required=False
    )
    in_reply_to = forms.CharField(widget=forms.HiddenInput, required=False, max_length=1000)
    references = forms.CharField(widget=forms.HiddenInput, required=False, max_length=5000)

    def clean_to(self) -> list[str]:
        recipients = webmail.parse_recipients(self.cleaned_data["to"])
        if not recipients:
            raise forms.ValidationError(_("Enter at least one address."))
        return recipients

    def clean_cc(self) -> list[str]:
        return webmail.parse_recipients(self.cleaned_data["cc"])

    def draft(self, user, upload_ids: list[str]) -> webmail.Draft:
        data = self.cleaned_data
        return webmail.Draft(
            data["to"],
            data["cc"],
            data["subject"],
            data["body"],
            data["in_reply_to"],
            data["references"],
            webmail.finished_uploads(user, upload_ids),
        )


def _prefill(request: HttpRequest) -> dict:
    """Reply or forward: the original's addresses, subject and quoted text."""
    uid = request.GET.get("reply") or request.GET.get("forward")
    if not uid or not uid.isdigit():
        return {"to": request.GET.get("to", "")[:500]}
    with webmail.mailbox(request.user) as client:
        original = webmail.read(client, _folder(client, request), int(uid))
    if original is None:
        raise Http404
    quoted = "\n".join(f"> {line}" for line in original.text.splitlines())
    if request.GET.get("reply"):
        subject = (
            original.subject
            if original.subject.lower().startswith("re:")
            else f"Re: {original.subject}"
        )
        return {
            "to": original.sender,
            "subject": subject,
            "body": f"\n\n{original.sender}:\n{quoted}",
            "in_reply_to": original.message_id,
            "references": original.references,
        }
    return {"subject": f"Fwd: {original.subject}", "body": f"\n\n---\n{original.text}"}


@mail_view
def compose(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = ComposeForm(request.POST)
        attachments = request.POST.getlist("attachments")
        if form.is_valid():
            try:
                if "draft" in request.POST:
                    webmail.save_draft(request.user, form.draft(request.user, attachments))
                    messages.success(request, _("The draft was saved."))
                else:
                    webmail.send(request.user, form.draft(request.user, attachments))
                    messages.success(request, _("The mail was sent."))
                return redirect("mail:inbox")
            except SendRefused as refused:
                form.add_error(None, _("The mail was not sent: %(reason)s") % {"reason": refused})
    else:
        form = ComposeForm(initial=_prefill(request))
    return render(
        request, "mail/compose.html", {"form": form, "address": services.address_of(request.user)}
    )


@login_required
@require_GET
def directory(request: HttpRequest) -> HttpResponse:
    """Recipient suggestions from the school's directory (an htmx fragment)."""
    if request.user.school_id is None:
        raise Http404
    found = services.directory_search(request.user, request.GET.get("to", "").split(",")[-1][:100])
    return render(request, "mail/_directory.html", {"found": found})
