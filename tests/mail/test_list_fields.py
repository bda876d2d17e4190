"""The inbox list's columns read from raw header fields (no mail servers needed; the same
rows against Dovecot's ENVELOPE: tests/mail/test_webmail.py)."""

from __future__ import annotations

import pytest

from kreide.mail import webmail

BLOCK = (
    b"From: =?utf-8?q?M=C3=BCller?=\r\n  \t Hans <m@example.org>\r\n"
    b"Subject: Re: =?utf-8?b?w4RwZmVs?=\r\n\tund  Birnen \r\n"
    b"Date: Mon, 7 Dec 2026 08:00:00 +0100\r\n"
    b"subject: a second one\r\n\r\n"
)


def test_fields_are_unfolded_and_the_first_of_each_counts():
    fields = webmail._header_fields(BLOCK)
    assert fields == {
        b"from": b"=?utf-8?q?M=C3=BCller?= Hans <m@example.org>",
        b"subject": b"Re: =?utf-8?b?w4RwZmVs?= und Birnen",
        b"date": b"Mon, 7 Dec 2026 08:00:00 +0100",
    }
    assert webmail._text(fields[b"subject"]) == "Re: Äpfel und Birnen"
    assert webmail._date_of(fields[b"date"]) is not None
    assert webmail._date_of(b"Tue, 31 Feb 2026 08:00:00 +0100") is None
    assert webmail._date_of(b"") is None


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, ""),
        (b"", ""),
        (b"Eltern <parent@example.org>", "Eltern"),
        (b'"M\xc3\xbcller, Hans" <h@example.org>', "Müller, Hans"),
        (b"=?utf-8?q?M=C3=BCller?= =?utf-8?q?_Hans?= <m@example.org>", "Müller Hans"),
        (b"=?iso-8859-1?b?SuRnZXI=?= <j@example.org>", "Jäger"),
        (b"Hans   Two <h@example.org>", "Hans Two"),
        (b'"" <empty@example.org>', "empty@example.org"),
        (b"<h@example.org>", "h@example.org"),
        (b"h@example.org", "h@example.org"),
    ],
)
def test_plain_senders_are_read_here(value, shown):
    assert webmail._plain_sender(value) == shown


@pytest.mark.parametrize(
    "value",
    [
        b"h@example.org (Hans)",  # the comment is the name
        b"Hans (the man) <h@example.org>",
        b"undisclosed-recipients:;",
        b"a@x.org, b@y.org",
        b"nobody",
        b"Hans <h@example.org",
        b'"Hans \\"Q\\"" <h@example.org>',
        b"Hans <@route.org:h@example.org>",
    ],
)
def test_odd_senders_are_left_to_dovecots_envelope(value):
    assert webmail._plain_sender(value) is None


def test_an_unknown_charset_is_read_as_utf8_not_an_error():
    assert webmail._text(b"=?x-unknown?q?Gr=C3=BC=C3=9Fe?= aus Bonn") == "Grüße aus Bonn"
    message = webmail._parse(
        7,
        b"From: a@example.org\r\nSubject: =?x-unknown?q?Hallo?=\r\n"
        b"Content-Type: text/plain; charset=x-unknown\r\n\r\nSch\xc3\xb6ne Ferien \xff\r\n",
        show_images=False,
    )
    assert message.subject == "Hallo"
    assert message.text.startswith("Schöne Ferien \ufffd")
