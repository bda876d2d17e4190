"""The webmail's side of IMAP and SMTP: Kreide speaks to Dovecot and Postfix like any mail
program, through IMAPClient and smtplib, signed in as the Dovecot master user for the
signed-in account (so it reaches only that account's mailbox), and sends through the same
submission port and sending policy as Thunderbird would.
"""

from __future__ import annotations

import email.header
import email.message
import email.policy
import email.utils
import re
import smtplib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, getaddresses, make_msgid, parsedate_to_datetime

import nh3
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django_redis.util import CacheKey
from imapclient import IMAPClient
from imapclient.datetime_util import parse_to_datetime
from imapclient.exceptions import IMAPClientError
from imapclient.imap4 import IMAP4WithTimeout
from imapclient.imap_utf7 import decode as decode_utf7
from imapclient.response_parser import parse_response
from imapclient.util import chunk

from kreide.accounts.models import User
from kreide.core import pagecache
from kreide.core.errors import Refusal
from kreide.mail import health, maildir, process, services
from kreide.mail.maildir import AUTOCREATED
from kreide.storage.blobstore import open_blob
from kreide.storage.models import Upload

PER_PAGE = 25
UNREAD_CACHE_SECONDS = 60
SPECIAL = {"INBOX": 0, "Drafts": 1, "Sent": 2, "Trash": 3, "Junk": 4}


class MailUnavailable(Exception):
    """Mail is not set up here, or Dovecot/Postfix do not answer."""


class SendRefused(Refusal):
    """Postfix refused a recipient (policy, unknown address); the text says why."""

    code = "mail_send_refused"


class _GreetedIMAP4(IMAP4WithTimeout):
    """imaplib asks CAPABILITY as soon as it connects; Dovecot has named its capabilities
    in the greeting (`* OK [CAPABILITY …]`), so they are taken from there: one command and
    round trip less per connection. A server that does not name them is asked as before."""

    def _get_capabilities(self) -> None:
        _typ, named = self._untagged_response("OK", [None], "CAPABILITY")
        if named[-1] is None:
            super()._get_capabilities()
        else:
            self.capabilities = tuple(str(named[-1], self._encoding).upper().split())


class _Client(IMAPClient):
    def _create_IMAP4(self) -> _GreetedIMAP4:
        return _GreetedIMAP4(self.host, self.port, getattr(self._timeout, "connect", None))


@contextmanager
def mailbox(user: User) -> Iterator[IMAPClient]:
    """An IMAP connection to the user's own mailbox, closed afterwards."""
    if not health.configured() or user.school_id is None:
        raise MailUnavailable("not configured")
    mail = process.layout()
    try:
        client = _Client(process.WEBMAIL_HOST, port=mail.ports.webmail, ssl=False, timeout=5)
        client.login(
            f"{services.address_of(user)}*{services.MASTER_USER}", services.master_secret()
        )
        # Kept from LOGIN's answer now: a SELECT drops it, and SORT would ask again.
        client.capabilities()
    except (OSError, IMAPClientError) as error:
        raise MailUnavailable(str(error)) from error
    try:
        yield client
    except (OSError, IMAPClientError) as error:
        raise MailUnavailable(str(error)) from error
    finally:
        with suppress(OSError, IMAPClientError):
            client.logout()


# The special folders' names as the webmail shows them; other folders show their own.
LABELS = {
    "INBOX": _("Inbox"),
    "Sent": _("Sent"),
    "Drafts": _("Drafts"),
    "Trash": _("Trash"),
    "Junk": _("Junk"),
}


@dataclass(frozen=True)
class Folder:
    name: str
    unread: int
    total: int

    @property
    def label(self) -> str:
        return LABELS.get(self.name, self.name)


# What LIST-STATUS lists for a mailbox with no mail and only the folders Dovecot creates.
EMPTY_FOLDERS = (Folder("INBOX", 0, 0), *(Folder(name, 0, 0) for name in AUTOCREATED))


def _folder_name(raw: bytes | int) -> str:
    # As IMAPClient's own LIST: a quoted number parses as int, the rest is modified UTF-7.
    return str(raw) if isinstance(raw, int) else decode_utf7(raw)


# A STATUS answer as Dovecot words it for a folder named by an atom or a quoted string
# without escapes, the counts in the order asked: read here in a few calls, where
# IMAPClient's parser (a lexer in Python) takes about a hundred a line. It reads the rest
# (a name sent as a literal or with escapes).
_PLAIN_STATUS = re.compile(
    rb'(?:"(?P<quoted>[^"\\]*)"|(?P<atom>[^\s"(){}\\]+)) '
    rb"\(MESSAGES (?P<messages>\d+) UNSEEN (?P<unseen>\d+)\)"
)


def folders(client: IMAPClient) -> list[Folder]:
    """Every folder with its unread and total count in one round trip: LIST with RETURN
    (STATUS …) (RFC 5819, LIST-STATUS, which Dovecot has) rather than a LIST and then one
    STATUS per folder. IMAPClient has no call for it, so it goes through its imaplib
    connection as IMAPClient's own LIST does. The folders are read from the STATUS
    answers alone: each listed folder that can be opened has one, a folder that cannot
    (\\Noselect) has none and is left out, as a STATUS of it would have failed."""
    imap = client._imap
    typ, data = imap._simple_command("LIST", '""', '"*"', "RETURN", "(STATUS (MESSAGES UNSEEN))")
    client._checkok("list", typ, data)
    imap.untagged_responses.pop("LIST", None)  # not read (see above), not left for later
    _typ, statuses = imap._untagged_response(typ, data, "STATUS")
    found, others = [], []
    for line in statuses:
        plain = _PLAIN_STATUS.fullmatch(line) if isinstance(line, bytes) else None
        if plain is not None:
            name = plain["atom"] if plain["quoted"] is None else plain["quoted"]
            found.append(Folder(decode_utf7(name), int(plain["unseen"]), int(plain["messages"])))
        elif line is not None:
            others.append(line)
    if others:
        for name, items in chunk(parse_response(others), 2):
            counts = dict(chunk(items, 2))
            found.append(Folder(_folder_name(name), counts[b"UNSEEN"], counts[b"MESSAGES"]))
    return sorted(found, key=lambda folder: (SPECIAL.get(folder.name, 9), folder.name.lower()))


def folder_names(client: IMAPClient) -> set[str]:
    return {name for _flags, _delimiter, name in client.list_folders()}


@dataclass(frozen=True)
class Summary:
    uid: int
    subject: str
    sender: str
    date: object
    seen: bool


@dataclass
class Page:
    messages: list[Summary]
    number: int
    total: int

    @property
    def has_next(self) -> bool:
        return self.number * PER_PAGE < self.total

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    raw = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    if "=?" not in raw:  # no encoded word (RFC 2047): the text as it is
        return raw
    parts = email.header.decode_header(raw)
    try:
        return str(email.header.make_header(parts))
    except (LookupError, UnicodeDecodeError):
        # A charset Python does not know: read as UTF-8, so one odd mail keeps the page.
        return "".join(
            part.decode("utf-8", "replace") if isinstance(part, bytes) else part
            for part, _charset in parts
        )


def _content(part: email.message.EmailMessage) -> str:
    try:
        return part.get_content()
    except LookupError:  # an unknown charset: the bytes as UTF-8, replacing what is not
        return (part.get_payload(decode=True) or b"").decode("utf-8", "replace")


def _sender(envelope) -> str:
    if not envelope.from_:
        return ""
    first = envelope.from_[0]
    name = _text(first.name)
    address = f"{_text(first.mailbox)}@{_text(first.host)}"
    return name or address


# The list's three columns as raw header fields rather than ENVELOPE: IMAPClient parses a
# row's ENVELOPE in ~1,700 Python calls (every address of every header as tokens), the one
# literal of these fields in a fraction of that. PEEK: listing does not mark mail read.
_FIELDS = b"BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)]"
_FIELDS_ANSWER = b"BODY[HEADER.FIELDS (FROM SUBJECT DATE)]"
_FIELD_START = re.compile(rb"\r?\n(?![ \t])")  # a line break that does not fold
_ADDRESS = rb"(?P<mailbox>[^\s\"<>()\[\]:;@\\,]+)@(?P<host>[^\s\"<>()\[\]:;@\\,]+)"
# From as nearly all mail has it: `Name <a@b>`, `"Name" <a@b>`, `<a@b>` or `a@b`, one
# address, no comment, route or group. Anything else is left to Dovecot's own parser
# (ENVELOPE), so odd senders show as before.
_PLAIN_FROM = re.compile(
    rb"(?:(?P<phrase>[^\x00-\x1f\"<>()\[\]:;@\\,]*)|\"(?P<quoted>[^\x00-\x1f\"\\]*)\"\s*)<"
    + _ADDRESS
    + rb">\s*|"
    + _ADDRESS.replace(b"?P<mailbox>", b"?P<bare_mailbox>").replace(b"?P<host>", b"?P<bare_host>")
)


def _header_fields(block: bytes) -> dict[bytes, bytes]:
    """The first From, Subject and Date of a header block, each as Dovecot's ENVELOPE
    gives it: unfolded, each run of white space one space, trimmed."""
    fields: dict[bytes, bytes] = {}
    for line in _FIELD_START.split(block):
        name, colon, value = line.partition(b":")
        if colon:
            fields.setdefault(name.strip().lower(), b" ".join(value.split()))
    return fields


def _plain_sender(value: bytes | None) -> str | None:
    """The sender column for a missing From or one of the plain shapes (as `_sender`
    would show its ENVELOPE); None for anything else."""
    if not value:
        return ""
    found = _PLAIN_FROM.fullmatch(value)
    if found is None:
        return None
    if found["bare_mailbox"]:
        return f"{_text(found['bare_mailbox'])}@{_text(found['bare_host'])}"
    # Dovecot joins a name's words with one space, quoted or not.
    name = b" ".join((found["phrase"] or found["quoted"] or b"").split())
    return _text(name) or f"{_text(found['mailbox'])}@{_text(found['host'])}"


def _date_of(value: bytes | None):
    """As IMAPClient reads ENVELOPE's date: local time without a zone, None if unreadable."""
    if not value:
        return None
    try:
        return parse_to_datetime(value)
    except ValueError:
        return None


def page(
    client: IMAPClient, folder: str, number: int, search: str = "", total: int | None = None
) -> Page:
    """One page of a folder, newest first; `search` looks in headers and text. `total`:
    the folder's mail count where LIST-STATUS has just told it (an empty folder then
    needs no SELECT)."""
    number = max(1, number)
    if total == 0 or not client.select_folder(folder, readonly=True)[b"EXISTS"]:
        return Page([], number, 0)  # nothing to sort or fetch
    criteria = ["TEXT", search] if search else ["ALL"]
    uids = client.sort(["REVERSE", "ARRIVAL"], criteria, charset="UTF-8")
    chosen = uids[(number - 1) * PER_PAGE : number * PER_PAGE]
    fetched = client.fetch(chosen, [b"FLAGS", _FIELDS]) if chosen else {}
    fields = {uid: _header_fields(fetched[uid][_FIELDS_ANSWER]) for uid in chosen if uid in fetched}
    senders = {uid: _plain_sender(found.get(b"from")) for uid, found in fields.items()}
    odd = [uid for uid, sender in senders.items() if sender is None]
    if odd:  # one more FETCH, for these rows only
        for uid, data in client.fetch(odd, [b"ENVELOPE"]).items():
            senders[uid] = _sender(data[b"ENVELOPE"])
    messages = [
        Summary(
            uid,
            _text(found.get(b"subject")),
            senders[uid] or "",
            _date_of(found.get(b"date")),
            b"\\Seen" in fetched[uid][b"FLAGS"],
        )
        for uid, found in fields.items()
    ]
    return Page(messages, number, len(uids))


@dataclass
class Attachment:
    index: int
    filename: str
    content_type: str
    size: int


@dataclass
class Message:
    uid: int
    subject: str
    sender: str
    to: str
    cc: str
    date: object
    message_id: str
    references: str
    text: str
    html: str = ""
    blocked_images: int = 0
    attachments: list[Attachment] = field(default_factory=list)


_REMOTE = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)


def sanitise_html(html: str, show_images: bool) -> tuple[str, int]:
    """Mail HTML without scripts, styles, forms or event handlers (nh3, the Ammonia
    sanitiser); remote images are removed unless the reader asked for them (they tell
    the sender that and when the mail was read). Returns the HTML and the number blocked."""
    blocked = 0

    def keep(tag: str, attribute: str, value: str) -> str | None:
        nonlocal blocked
        if tag == "img" and attribute == "src" and _REMOTE.match(value) and not show_images:
            blocked += 1
            return None
        return value

    cleaned = nh3.clean(
        html,
        attribute_filter=keep,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return cleaned, blocked


def _parse(uid: int, raw: bytes, show_images: bool) -> Message:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    text_part = parsed.get_body(preferencelist=("plain",))
    html_part = parsed.get_body(preferencelist=("html",))
    html, blocked = ("", 0)
    if html_part is not None:
        html, blocked = sanitise_html(_content(html_part), show_images)
    attachments = [
        Attachment(
            index,
            part.get_filename() or f"attachment-{index}",
            part.get_content_type(),
            len(part.get_payload(decode=True) or b""),
        )
        for index, part in enumerate(parsed.iter_attachments())
    ]
    return Message(
        uid=uid,
        subject=str(parsed.get("Subject", "")),
        sender=str(parsed.get("From", "")),
        to=str(parsed.get("To", "")),
        cc=str(parsed.get("Cc", "")),
        date=_date(parsed.get("Date")),
        message_id=str(parsed.get("Message-ID", "")),
        references=str(parsed.get("References", "")),
        text=_content(text_part) if text_part is not None else "",
        html=html,
        blocked_images=blocked,
        attachments=attachments,
    )


def _date(value):
    try:
        return parsedate_to_datetime(str(value)) if value else None
    except (TypeError, ValueError):
        return None


def read(client: IMAPClient, folder: str, uid: int, show_images: bool = False) -> Message | None:
    """A message, marked as read."""
    client.select_folder(folder)
    fetched = client.fetch([uid], ["BODY[]"])
    if uid not in fetched:
        return None
    client.add_flags([uid], [b"\\Seen"])
    return _parse(uid, fetched[uid][b"BODY[]"], show_images)


def attachment(
    client: IMAPClient, folder: str, uid: int, index: int
) -> tuple[str, str, bytes] | None:
    client.select_folder(folder, readonly=True)
    fetched = client.fetch([uid], ["BODY.PEEK[]"])
    if uid not in fetched:
        return None
    parsed = email.message_from_bytes(fetched[uid][b"BODY[]"], policy=email.policy.default)
    for position, part in enumerate(parsed.iter_attachments()):
        if position == index:
            name = part.get_filename() or f"attachment-{index}"
            return name, part.get_content_type(), part.get_payload(decode=True) or b""
    return None


def move_to(client: IMAPClient, folder: str, uid: int, target: str) -> None:
    client.select_folder(folder)
    client.move([uid], target)


def delete(client: IMAPClient, folder: str, uid: int) -> None:
    """Into the trash; from the trash, gone."""
    if folder == "Trash":
        client.select_folder(folder)
        client.delete_messages([uid])
        client.expunge([uid])
    else:
        move_to(client, folder, uid, "Trash")


@dataclass
class Draft:
    to: list[str]
    cc: list[str]
    subject: str
    body: str
    in_reply_to: str = ""
    references: str = ""
    attachments: list[Upload] = field(default_factory=list)


def finished_uploads(user: User, upload_ids: list[str]) -> list[Upload]:
    """The user's own finished mail-attachment uploads among these ids."""
    ids = [value for value in upload_ids if value][:50]
    valid = []
    for value in ids:
        try:
            valid.append(uuid.UUID(value))
        except ValueError:
            continue
    return list(
        Upload.objects.for_school(user.school_id)
        .filter(pk__in=valid, user=user, purpose="mail-attachment", blob__isnull=False)
        .select_related("blob")
    )


def build(user: User, draft: Draft) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr((user.get_full_name(), services.address_of(user)))
    message["To"] = ", ".join(draft.to)
    if draft.cc:
        message["Cc"] = ", ".join(draft.cc)
    message["Subject"] = draft.subject
    message["Message-ID"] = make_msgid(domain=services.address_of(user).partition("@")[2])
    message["Date"] = email.utils.formatdate(localtime=True)
    if draft.in_reply_to:
        message["In-Reply-To"] = draft.in_reply_to
        message["References"] = f"{draft.references} {draft.in_reply_to}".strip()
    message.set_content(draft.body)
    for upload in draft.attachments:
        maintype, _slash, subtype = (upload.filetype or "application/octet-stream").partition("/")
        with open_blob(upload.blob) as content:
            message.add_attachment(
                content.read(),
                maintype=maintype if subtype else "application",
                subtype=subtype or "octet-stream",
                filename=upload.filename,
            )
    return message


def parse_recipients(value: str) -> list[str]:
    return [address for _name, address in getaddresses([value]) if "@" in address]


def send(user: User, draft: Draft) -> None:
    """Through Postfix's submission port, as the user (same policy as any mail program);
    a copy goes to Sent."""
    message = build(user, draft)
    mail = process.layout()
    try:
        with smtplib.SMTP(mail.host, mail.ports.submission, timeout=10) as smtp:
            smtp.login(
                f"{services.address_of(user)}*{services.MASTER_USER}", services.master_secret()
            )
            smtp.send_message(message, to_addrs=[*draft.to, *draft.cc])
    except smtplib.SMTPRecipientsRefused as refused:
        reasons = [text.decode("utf-8", "replace") for _code, text in refused.recipients.values()]
        raise SendRefused("; ".join(reasons)) from refused
    except (OSError, smtplib.SMTPException) as error:
        raise MailUnavailable(str(error)) from error
    with mailbox(user) as client:
        client.append("Sent", message.as_bytes(), flags=[b"\\Seen"])


def save_draft(user: User, draft: Draft) -> None:
    with mailbox(user) as client:
        client.append("Drafts", build(user, draft).as_bytes(), flags=[b"\\Draft", b"\\Seen"])


def unread_key(user: User, request: HttpRequest | None = None) -> str:
    """Where the INBOX's unread count is kept. With Kreide's Redis: Dovecot's own key, which
    every process that changes the INBOX rewrites (notify_status, process.unseen_prefix),
    outside Django's key names (django-redis takes a CacheKey as it is). Without: Kreide's,
    for a minute. With the page's `request` (of `user`) worked out once: the page's keys
    name it and its navigation reads it (~15 Python calls each time)."""
    key = getattr(request, "_kreide_mail_unread_key", None)
    if key is not None:
        return key
    prefix = process.unseen_prefix()
    if prefix:
        address = services.address_of(user, services.kept_domain(user))
        key = CacheKey(f"{prefix}{address}/status/INBOX")
    else:
        key = f"mail:unread:{user.pk}"
    if request is not None:
        request._kreide_mail_unread_key = key
    return key


def remember_unread(
    user: User, count: int, request: HttpRequest | None = None, *, known: bool = True
) -> None:
    """The INBOX's unread count just read over IMAP (`known`; else 0 for Dovecot not
    answering), for the navigation. Dovecot's key is only added where it has none (a
    mailbox unchanged since before Kreide ran on Redis), never over the count a later
    change wrote; kept as long as Dovecot keeps it, an unknown count a minute."""
    key = unread_key(user, request)
    if not isinstance(key, CacheKey):
        cache.set(key, count, UNREAD_CACHE_SECONDS)
    elif request is None or pagecache.peek(request, key) is None:
        cache.add(key, count, process.UNSEEN_SECONDS if known else UNREAD_CACHE_SECONDS)
    if request is not None:
        pagecache.put(request, key, count)


def unread_count(user: User, request: HttpRequest | None = None, *, keep: bool = False) -> int:
    """Unread mails in the INBOX for the navigation and dashboard: from the page's one cache
    round trip (`pagecache`; `keep` leaves it for the navigation after the dashboard's
    section); without a kept count from the INBOX's Maildir (each student's first page
    in the morning: Dovecot has written no count for a mailbox unchanged since), and
    where that cannot tell an IMAP STATUS (a down Dovecot costs a refused connect, then
    nothing for a minute)."""
    if user.school_id is None or settings.MAIL == "off":
        return 0
    key = unread_key(user, request)
    count = pagecache.peek(request, key) if keep else pagecache.take(request, key)
    if count is None:
        known = True
        count = maildir.unseen(services.address_of(user, services.kept_domain(user)))
        if count is None:
            try:
                with mailbox(user) as client:
                    count = client.folder_status("INBOX", [b"UNSEEN"])[b"UNSEEN"]
            except (TimeoutError, MailUnavailable):
                count, known = 0, False
        remember_unread(user, count, request, known=known)
    return count
