"""Initial passwords for printing: kept briefly in the cache, never in the database.

An import or a password reset puts its new passwords under a random token for 15 minutes,
readable only by the person who made them (owner check, and the entry is enciphered with
the token, which only their browser holds); the result page and the PDF read them there.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
from dataclasses import asdict, dataclass
from itertools import groupby
from pathlib import Path
from urllib.parse import urlencode

import segno
from django.conf import settings
from django.core.cache import caches
from django.utils import timezone
from django.utils.translation import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from kreide.core.cache import with_counters
from kreide.schools.models import Group

CACHE_SECONDS = 15 * 60
_FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")


@dataclass(frozen=True)
class Credential:
    first_name: str
    last_name: str
    username: str
    password: str
    group: str  # the class the slip is sorted under ("" when none)

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


def _key(token: str) -> str:
    return "credentials:" + hashlib.sha256(token.encode()).hexdigest()


def _cipher(token: str, data: bytes) -> bytes:
    """XOR with a SHAKE-256 keystream keyed by the token (each token is used once): what the
    cache holds is unreadable without the token, which only the admin's browser has."""
    stream = hashlib.shake_256(f"{settings.SECRET_KEY}|credentials|{token}".encode())
    mixed = int.from_bytes(data, "big") ^ int.from_bytes(stream.digest(len(data)), "big")
    return mixed.to_bytes(len(data), "big")


def store(owner_id: int, school_id: int, credentials: list[Credential], **extra) -> str:
    """Keep `credentials` for their owner for CACHE_SECONDS; returns the token."""
    token = secrets.token_urlsafe(24)
    entry = {
        "owner_id": owner_id,
        "school_id": school_id,
        "credentials": [asdict(c) for c in credentials],
        **extra,
    }
    sealed = _cipher(token, json.dumps(entry).encode())
    # While Redis is away the passwords wait in this machine's file cache instead.
    with_counters(lambda cache: cache.set(_key(token), sealed, timeout=CACHE_SECONDS))
    return token


def load(token: str, owner_id: int) -> dict | None:
    """The stored entry with `credentials` as Credential objects, or None (expired/foreign)."""
    sealed = with_counters(lambda cache: cache.get(_key(token)))
    if sealed is None and settings.REDIS_URL:  # stored while Redis was away
        sealed = caches["local"].get(_key(token))
    if sealed is None:
        return None
    entry = json.loads(_cipher(token, sealed))
    if entry["owner_id"] != owner_id:
        return None
    return {**entry, "credentials": [Credential(**c) for c in entry["credentials"]]}


def slip_group(groups: list[Group]) -> str:
    """The group a slip is sorted under: the first class, else the first other group."""
    ordered = sorted(groups, key=lambda group: group.kind != Group.Kind.CLASS)  # stable
    return ordered[0].name if ordered else ""


def sorted_for_print(credentials: list[Credential]) -> list[Credential]:
    return sorted(
        credentials,
        key=lambda c: (c.group == "", c.group.lower(), c.last_name.lower(), c.first_name.lower()),
    )


def _fonts() -> tuple[str, str]:
    """DejaVu covers every name (ı, ł, …); Helvetica (Latin-1 only) is the fallback."""
    if "KreideSans" in pdfmetrics.getRegisteredFontNames():
        return "KreideSans", "KreideSans-Bold"
    regular, bold = _FONT_DIR / "DejaVuSans.ttf", _FONT_DIR / "DejaVuSans-Bold.ttf"
    if regular.exists() and bold.exists():
        pdfmetrics.registerFont(TTFont("KreideSans", str(regular)))
        pdfmetrics.registerFont(TTFont("KreideSans-Bold", str(bold)))
        return "KreideSans", "KreideSans-Bold"
    return "Helvetica", "Helvetica-Bold"


def sign_in_link(site_url: str, username: str) -> str:
    """The sign-in page with the username filled in (what a slip's QR code opens)."""
    return f"{site_url.rstrip('/')}/accounts/login/?{urlencode({'username': username})}"


def _fit(text: str, font: str, size: float, width: float) -> str:
    while text and pdfmetrics.stringWidth(text, font, size) > width:
        text = text[:-1]
    return text


def _shrunk(text: str, font: str, size: float, smallest: float, width: float) -> float:
    """The font size, from `size` down to `smallest`, at which `text` fits `width`."""
    while size > smallest and pdfmetrics.stringWidth(text, font, size) > width:
        size -= 0.5
    return size


def _draw_qr(canvas: Canvas, data: str, x: float, top: float, size: float) -> None:
    """A QR code as vector squares: sharp on any printer, no image files."""
    code = segno.make(data, error="m")
    matrix = code.matrix
    module = size / len(matrix)
    canvas.saveState()
    canvas.setFillGray(0)
    for row, line in enumerate(matrix):
        for column, dark in enumerate(line):
            if dark:
                canvas.rect(x + column * module, top - (row + 1) * module, module, module, 0, 1)
    canvas.restoreState()


# Ten slips per A4 page (2 × 5), each class starting on a new page so slips can be handed
# out class by class; dashed cut lines between slips.
_COLUMNS, _ROWS = 2, 5
_MARGIN = 10 * mm


def render_pdf(
    credentials: list[Credential],
    school_name: str,
    school_address: str,
    *,
    site_url: str = "",
    compress: bool = True,
) -> bytes:
    """The slips; with `site_url` each carries Kreide's address and a QR code that opens
    the sign-in page with the username filled in."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1 if compress else 0)
    canvas.setTitle(_("Sign-in details"))
    regular, bold = _fonts()
    page_width, page_height = A4
    slip_width = (page_width - 2 * _MARGIN) / _COLUMNS
    slip_height = (page_height - 2 * _MARGIN) / _ROWS
    address = [line.strip() for line in school_address.splitlines() if line.strip()]
    address = [line for line in address if line != school_name][:3]

    def cut_lines() -> None:
        canvas.saveState()
        canvas.setDash(3, 3)
        canvas.setStrokeGray(0.6)
        for column in range(_COLUMNS + 1):
            x = _MARGIN + column * slip_width
            canvas.line(x, _MARGIN, x, page_height - _MARGIN)
        for row in range(_ROWS + 1):
            y = _MARGIN + row * slip_height
            canvas.line(_MARGIN, y, page_width - _MARGIN, y)
        canvas.restoreState()

    qr_size = 17 * mm
    site_url = site_url.rstrip("/")

    def slip(credential: Credential, x: float, top: float) -> None:
        pad = 5 * mm
        left, y = x + pad, top - pad - 3 * mm
        # The header runs beside the QR code in the top right corner.
        header = slip_width - 2 * pad - (qr_size + 2 * mm if site_url else 0)
        if site_url:
            _draw_qr(
                canvas,
                sign_in_link(site_url, credential.username),
                x + slip_width - pad - qr_size,
                top - pad,
                qr_size,
            )
        canvas.setFont(bold, 9)
        canvas.drawString(left, y, _fit(school_name, bold, 9, header))
        canvas.setFont(regular, 7.5)
        for line in address:
            y -= 3.4 * mm
            canvas.drawString(left, y, _fit(line, regular, 7.5, header))
        y -= 6 * mm
        if site_url:  # the name line (with the class on the right) starts below the code
            y = min(y, top - pad - qr_size - 5 * mm)
        class_label = _("Class %(name)s") % {"name": credential.group} if credential.group else ""
        canvas.setFont(regular, 9)
        canvas.drawRightString(x + slip_width - pad, y, class_label)
        room = slip_width - 2 * pad - pdfmetrics.stringWidth(class_label, regular, 9) - 3 * mm
        # Long double names shrink rather than run into the class.
        canvas.setFont(bold, _shrunk(credential.name, bold, 11, 6, room))
        canvas.drawString(left, y, credential.name)
        # Courier: fixed width and unambiguous glyphs for what pupils must type.
        for label, value in (
            (_("Username"), credential.username),
            (_("Password"), credential.password),
        ):
            y -= 6.5 * mm
            canvas.setFont(regular, 9)
            canvas.drawString(left, y, f"{label}:")
            # A long username shrinks rather than run off the slip.
            room = slip_width - 2 * pad - 28 * mm
            canvas.setFont("Courier-Bold", _shrunk(value, "Courier-Bold", 12, 7, room))
            canvas.drawString(left + 28 * mm, y, value)
        y -= 7 * mm
        canvas.setFont(regular, 8)
        canvas.drawString(left, y, _("Please choose your own password when you first sign in."))
        if site_url:  # in Courier, like the username: typed exactly as printed
            y -= 4.5 * mm
            label = _("Sign in at")
            canvas.drawString(left, y, label)
            start = left + pdfmetrics.stringWidth(label, regular, 8) + 1.5 * mm
            room = x + slip_width - pad - start
            canvas.setFont("Courier-Bold", _shrunk(site_url, "Courier-Bold", 9, 6, room))
            canvas.drawString(start, y, site_url)

    ordered = sorted_for_print(credentials)
    first_page = True
    for _group, members in groupby(ordered, key=lambda c: c.group):
        members = list(members)
        for start in range(0, len(members), _COLUMNS * _ROWS):
            if not first_page:
                canvas.showPage()
            first_page = False
            cut_lines()
            for index, credential in enumerate(members[start : start + _COLUMNS * _ROWS]):
                row, column = divmod(index, _COLUMNS)
                slip(
                    credential,
                    _MARGIN + column * slip_width,
                    page_height - _MARGIN - row * slip_height,
                )
    if first_page:  # nothing to print still gives a valid (empty) page
        cut_lines()
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def add_slip_arguments(parser) -> None:
    """The commands' options for the sign-in slips of new accounts (see write_slips)."""
    parser.add_argument(
        "--credentials",
        type=Path,
        help="PDF for the sign-in slips of new accounts (default: credentials-SLUG-TIME.pdf)",
    )
    parser.add_argument(
        "--url",
        default=settings.PUBLIC_URL,
        help="Kreide's address printed on the slips (default: KREIDE_PUBLIC_URL)",
    )


def write_slips(credentials: list[Credential], school, target: Path | None, site_url: str) -> Path:
    """The commands' sign-in slips as a PDF only the operator can read; generated passwords
    exist nowhere else, so without a target they still go to a file rather than being lost."""
    default = f"credentials-{school.slug}-{timezone.now():%Y%m%d-%H%M%S}.pdf"
    path = Path(target or default)
    path.write_bytes(render_pdf(credentials, school.name, school.address, site_url=site_url))
    path.chmod(0o600)
    return path
