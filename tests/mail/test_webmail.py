"""The webmail against real Dovecot and Postfix: reading, writing, replying, mail down."""

from __future__ import annotations

import json
import smtplib
import uuid
from email.message import EmailMessage

import pytest
from django.template.defaultfilters import date as date_filter
from django.urls import reverse

from kreide.accounts.models import User
from kreide.mail import health, mailboxes, maildir, webmail
from kreide.mail.services import address_of
from tests.mail.conftest import delivered, imap_login, needs_servers, wait_until

pytestmark = [needs_servers, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def deliver(mail, to_user, subject: str, html: str = "", attachment: bytes = b"") -> None:
    """A mail from outside the school (to staff) or from a colleague, through Postfix."""
    message = EmailMessage()
    message["From"] = "Eltern <parent@example.org>"
    message["To"] = address_of(to_user)
    message["Subject"] = subject
    message.set_content("Hallo als Text")
    if html:
        message.add_alternative(html, subtype="html")
    if attachment:
        message.add_attachment(
            attachment, maintype="application", subtype="pdf", filename="Zeugnis.pdf"
        )
    with smtplib.SMTP(mail.mail.host, mail.mail.ports.smtp, timeout=10) as smtp:
        smtp.send_message(message)
    assert delivered(mail, to_user, subject)


def test_inbox_lists_mail_and_counts_unread(mail, world, client_for):
    title = f"Elternabend {uuid.uuid4().hex[:6]}"
    deliver(mail, world.teacher_7a, title)
    client = client_for(world.teacher_7a)
    page = client.get(reverse("mail:inbox")).content.decode()
    assert title in page
    assert address_of(world.teacher_7a) in page
    with webmail.mailbox(world.teacher_7a) as imap:
        row = webmail.page(imap, "INBOX", 1, title).messages[0]
    # The machine-readable time as the `date:'c'` filter wrote it (the list's dates are
    # naive local times, IMAPClient's reading of ENVELOPE's).
    assert f'<time datetime="{date_filter(row.date, "c")}">' in page
    assert webmail.unread_count(world.teacher_7a) >= 1
    dashboard = client.get(reverse("dashboard:home")).content.decode()
    assert "ungelesen" in dashboard


def test_the_inbox_asks_dovecot_once_per_step(mail, world, client_for, imap_traffic):
    """LOGIN, one LIST with every folder's counts, EXAMINE, SORT, FETCH, LOGOUT on one
    connection; the capabilities from Dovecot's greeting and LOGIN's answer (before: 14
    commands, the folders listed twice, a STATUS for each, imaplib's CAPABILITY on
    connecting and a second one before SORT)."""
    title = f"Runde {uuid.uuid4().hex[:6]}"
    deliver(mail, world.teacher_7a, title)
    client = client_for(world.teacher_7a)
    imap_traffic.clear()  # the delivery's check
    connections, commands = imap_traffic.connections, imap_traffic.commands
    page = client.get(reverse("mail:inbox")).content.decode()

    assert title in page
    assert len(connections) == 1
    assert len(commands) <= 6, commands
    assert [b"CAPABILITY"] not in [c[:1] for c in commands]

    # An empty folder: LIST-STATUS said so, no EXAMINE, SORT or FETCH.
    commands.clear()
    page = client.get(reverse("mail:inbox"), {"folder": "Junk"}).content.decode()
    assert "Keine E-Mails in diesem Ordner." in page
    assert [c for c in commands if c[0] in (b"EXAMINE", b"SORT", b"FETCH")] == []
    assert len(commands) <= 3, commands


def test_an_empty_mailbox_opens_without_imap(mail, world, make_user, client_for, imap_traffic):
    """A mailbox without mail in any folder is read from its directory: the same folders
    as LIST-STATUS lists, no IMAP connection. A delivered mail shows on the next opening,
    and a folder of a mail program's making sends the page to IMAP again."""
    teacher = make_user(world.school, User.Role.TEACHER)
    mailboxes.create([teacher], None)
    with webmail.mailbox(teacher) as imap:
        assert maildir.look(address_of(teacher)).empty
        assert list(webmail.EMPTY_FOLDERS) == webmail.folders(imap)
    client = client_for(teacher)
    imap_traffic.clear()
    page = client.get(reverse("mail:inbox")).content.decode()
    assert "Keine E-Mails in diesem Ordner." in page
    assert '?folder=Junk"' in page
    found = client.get(reverse("mail:inbox"), {"folder": "Sent", "q": "Wandertag"})
    assert "Keine E-Mail passt zur Suche." in found.content.decode()
    assert client.get(reverse("mail:inbox"), {"folder": "Nirgends"}).status_code == 404
    assert imap_traffic.connections == []

    title = f"Gleich da {uuid.uuid4().hex[:6]}"
    deliver(mail, teacher, title)
    imap_traffic.clear()
    assert title in client.get(reverse("mail:inbox")).content.decode()
    assert len(imap_traffic.connections) == 1

    other = make_user(world.school, User.Role.TEACHER)
    mailboxes.create([other], None)
    client = client_for(other)
    with imap_login(mail, address_of(other)) as program:  # as Thunderbird would
        program.create("Projekt")
    assert not maildir.look(address_of(other)).empty
    assert "Projekt" in client.get(reverse("mail:inbox")).content.decode()


def test_an_unchanged_mailbox_is_listed_without_imap(
    mail, world, make_user, client_for, imap_traffic
):
    """The listing IMAP gave is kept behind the Maildir's file names: opening an unchanged
    mailbox asks IMAP nothing; a delivery, a mail read, flagged or deleted by a mail
    program shows on the next opening."""
    teacher = make_user(world.school, User.Role.TEACHER)
    mailboxes.create([teacher], None)
    first = f"Erste {uuid.uuid4().hex[:6]}"
    deliver(mail, teacher, first)
    client = client_for(teacher)

    def opened(**params) -> tuple[str, int]:
        imap_traffic.clear()
        page = client.get(reverse("mail:inbox"), params).content.decode()
        return page[page.index('<div class="mail-layout">') :], len(imap_traffic.connections)

    listed, connections = opened()
    assert first in listed and connections == 1
    assert opened() == (listed, 0)
    assert opened() == (listed, 0)
    assert 'class="unread"' in listed

    with imap_login(mail, address_of(teacher)) as program:  # as Thunderbird would
        program.select("INBOX")
        program.store("1:*", "+FLAGS", "\\Seen")
        listed, connections = opened()
        assert connections == 1 and 'class="unread"' not in listed and first in listed

        second = f"Zweite {uuid.uuid4().hex[:6]}"
        deliver(mail, teacher, second)
        listed, connections = opened()
        assert connections == 1 and second in listed and first in listed

        program.store("1", "+FLAGS", "\\Deleted")
        program.expunge()
    listed, connections = opened()
    assert connections == 1 and first not in listed and second in listed
    # Another folder: listed and kept on its own.
    assert opened(folder="Sent")[1] == 1
    assert opened(folder="Sent")[1] == 0


def test_the_webmail_reuses_dovecots_processes_and_mail_programs_do_not(mail, world):
    """The webmail's own port: an imap process serves its sessions one after the other
    (Dovecot's CPU per opening about a quarter); a mail program's connection still gets a
    process of its own. Read from Dovecot's log: "imap(<address>)<pid>…Logged out"."""
    log = mail.mail.log_dir / "dovecot.log"
    start = log.stat().st_size
    address = address_of(world.student_7a)
    for _ in range(3):
        with webmail.mailbox(world.student_7a) as imap:
            imap.folder_status("INBOX", [b"UNSEEN"])
    for _ in range(3):
        imap_login(mail, address).logout()

    def sessions() -> list[str]:
        with log.open() as lines:
            lines.seek(start)
            return [
                line.split(f"imap({address})<", 1)[1].split(">", 1)[0]
                for line in lines
                if f"imap({address})<" in line and "Logged out" in line
            ]

    assert wait_until(lambda: len(sessions()) == 6, 10), sessions()
    webmail_pids, program_pids = sessions()[:3], sessions()[3:]
    # Fewer processes than sessions (an earlier test may have left a second one idle, or
    # a process may reach its 100 sessions in between); one per session for mail programs.
    assert len(set(webmail_pids)) < 3
    assert len(set(program_pids)) == 3


def test_the_folder_list_counts_like_a_status_of_each_folder(mail, world):
    title = f"Zaehlen {uuid.uuid4().hex[:6]}"
    deliver(mail, world.teacher_7a, title)
    with webmail.mailbox(world.teacher_7a) as imap:
        imap.create_folder("Klassenfahrt Ä")  # modified UTF-7 on the wire
        imap.create_folder("2027")  # a name IMAPClient parses as a number
        imap.create_folder('Zitat "x"')  # quoted with escapes: IMAPClient's parser reads it
        try:
            found = {f.name: (f.unread, f.total) for f in webmail.folders(imap)}
            expected = {}
            for _flags, _delimiter, name in imap.list_folders():
                status = imap.folder_status(name, [b"UNSEEN", b"MESSAGES"])
                expected[name] = (status[b"UNSEEN"], status[b"MESSAGES"])
            assert webmail.page(imap, "Klassenfahrt Ä", 1).total == 0
        finally:
            imap.select_folder("INBOX")  # Dovecot ends a session whose open folder goes
            imap.delete_folder("Klassenfahrt Ä")
            imap.delete_folder("2027")
            imap.delete_folder('Zitat "x"')
    assert found == expected
    assert found["INBOX"][0] >= 1
    assert {
        "INBOX",
        "Drafts",
        "Sent",
        "Trash",
        "Junk",
        "Klassenfahrt Ä",
        "2027",
        'Zitat "x"',
    } <= set(found)


def test_reading_sanitises_html_and_blocks_remote_images(mail, world, client_for):
    title = f"HTML {uuid.uuid4().hex[:6]}"
    html = (
        '<p onclick="steal()">Hallo <b>fett</b></p><script>alert(1)</script>'
        '<img src="https://tracker.example/pixel.gif">'
    )
    deliver(mail, world.teacher_7a, title, html=html, attachment=b"%PDF-1.4 zeugnis")
    client = client_for(world.teacher_7a)
    with webmail.mailbox(world.teacher_7a) as imap:
        uid = webmail.page(imap, "INBOX", 1, title).messages[0].uid
    response = client.get(reverse("mail:message", args=[uid]))
    page = response.content.decode()
    assert "<b>fett</b>" in page
    assert "alert(1)" not in page and "onclick" not in page
    assert "tracker.example" not in page
    assert "blockiert" in page
    assert "https:" not in response["Content-Security-Policy"].split("img-src")[1].split(";")[0]
    shown = client.get(reverse("mail:message", args=[uid]), {"images": "1"})
    assert "https://tracker.example/pixel.gif" in shown.content.decode()
    download = client.get(reverse("mail:attachment", args=[uid, 0]))
    assert download.content == b"%PDF-1.4 zeugnis"
    assert "Zeugnis.pdf" in download["Content-Disposition"]


def test_writing_and_replying(mail, world, client_for):
    title = f"Frage {uuid.uuid4().hex[:6]}"
    student = client_for(world.student_7a)
    response = student.post(
        reverse("mail:compose"),
        {"to": address_of(world.teacher_7a), "subject": title, "body": "Wann ist die Arbeit?"},
    )
    assert response.status_code == 302
    assert delivered(mail, world.teacher_7a, title)
    with webmail.mailbox(world.student_7a) as imap:
        assert webmail.page(imap, "Sent", 1, title).total == 1
    teacher = client_for(world.teacher_7a)
    with webmail.mailbox(world.teacher_7a) as imap:
        uid = webmail.page(imap, "INBOX", 1, title).messages[0].uid
    form = teacher.get(reverse("mail:compose"), {"reply": uid, "folder": "INBOX"}).content.decode()
    assert f"Re: {title}" in form
    assert address_of(world.student_7a) in form
    teacher.post(
        reverse("mail:compose"),
        {"to": address_of(world.student_7a), "subject": f"Re: {title}", "body": "Dienstag."},
    )
    assert delivered(mail, world.student_7a, f"Re: {title}")


def test_the_policy_applies_to_the_webmail_too(mail, world, client_for):
    response = client_for(world.student_7a).post(
        reverse("mail:compose"),
        {"to": "klasse-7a@nord.kreide.test", "subject": "Hallo alle", "body": "?"},
    )
    assert response.status_code == 200
    assert "nicht gesendet" in response.content.decode()


def test_directory_completes_recipients_of_the_own_school(mail, world, client_for):
    world.teacher_7a.last_name = "Lehmann"
    world.teacher_7a.save()
    world.other_teacher.last_name = "Lehmig"
    world.other_teacher.save()
    page = client_for(world.student_7a).get(reverse("mail:directory"), {"to": "Leh"})
    assert address_of(world.teacher_7a) in page.content.decode()
    assert address_of(world.other_teacher) not in page.content.decode()


def test_mail_down_is_a_plain_notice_and_the_rest_works(mail, world, client_for):
    client = client_for(world.student_7a)
    mailboxes.create([world.student_7a], None)  # made and empty: readable without IMAP
    assert health.problem() is None
    mail.stop_dovecot()
    try:
        assert health.problem() == "imap down"  # what /status shows
        response = client.get(reverse("mail:inbox"))
        assert response.status_code == 503
        assert "nicht erreichbar" in response.content.decode()
        assert client.get(reverse("dashboard:home")).status_code == 200
        assert client.get(reverse("tasks:list")).status_code == 200
    finally:
        mail.start_dovecot()


def test_deleting_moves_to_trash(mail, world, client_for):
    title = f"Weg {uuid.uuid4().hex[:6]}"
    deliver(mail, world.teacher_7a, title)
    with webmail.mailbox(world.teacher_7a) as imap:
        uid = webmail.page(imap, "INBOX", 1, title).messages[0].uid
    client_for(world.teacher_7a).post(reverse("mail:delete", args=[uid]), {"folder": "INBOX"})
    with webmail.mailbox(world.teacher_7a) as imap:
        assert webmail.page(imap, "INBOX", 1, title).total == 0
        assert webmail.page(imap, "Trash", 1, title).total == 1


def test_a_draft_is_kept_in_drafts(mail, world, client_for):
    title = f"Entwurf {uuid.uuid4().hex[:6]}"
    response = client_for(world.student_7a).post(
        reverse("mail:compose"),
        {"to": address_of(world.teacher_7a), "subject": title, "body": "halb fertig", "draft": "1"},
    )
    assert response.status_code == 302
    with webmail.mailbox(world.student_7a) as imap:
        assert webmail.page(imap, "Drafts", 1, title).total == 1
    assert not delivered(mail, world.teacher_7a, title, wait=0)


def test_attachments_come_through_the_tus_uploads(mail, world, client_for):
    from tests.tasks.conftest import tus_upload

    title = f"Mit Anhang {uuid.uuid4().hex[:6]}"
    student = client_for(world.student_7a)
    finished = tus_upload(
        student,
        b"%PDF-1.4 referat",
        purpose="mail-attachment",
        filename="Referat.pdf",
        filetype="application/pdf",
    )
    upload_id = json.loads(finished["Kreide-Upload-Result"])["upload"]
    stranger_upload = tus_upload(
        client_for(world.classmate_7a), b"fremd", purpose="mail-attachment", filename="x.txt"
    )
    stranger_id = json.loads(stranger_upload["Kreide-Upload-Result"])["upload"]
    student.post(
        reverse("mail:compose"),
        {
            "to": address_of(world.teacher_7a),
            "subject": title,
            "body": "Im Anhang.",
            "attachments": [upload_id, stranger_id],  # another's upload is ignored
        },
    )
    assert delivered(mail, world.teacher_7a, title)
    with webmail.mailbox(world.teacher_7a) as imap:
        uid = webmail.page(imap, "INBOX", 1, title).messages[0].uid
        message = webmail.read(imap, "INBOX", uid)
    assert [(a.filename, a.size) for a in message.attachments] == [("Referat.pdf", 16)]


# From, Subject and Date as mail programs and odd senders write them (raw header bytes).
ODD_HEADERS = [
    (b"Eltern <parent@example.org>", b"Plain", b"Mon, 7 Dec 2026 08:00:00 +0100"),
    (
        b'"M\xc3\xbcller, Hans" <h@example.org>',
        b"=?utf-8?q?Gr=C3=BC=C3=9Fe?=",
        b"7 Dec 2026 08:00 GMT",
    ),
    (
        b"=?utf-8?q?M=C3=BCller?= =?utf-8?q?_Hans?= <m@example.org>",
        b"Re: =?utf-8?b?w4RwZmVs?= und Birnen",
        b"garbage",
    ),
    (
        b"Frau =?utf-8?q?M=C3=BCller?= <m@example.org>",
        b"  spaces  around  ",
        b"Mon, 07 Dec 2026 08:00:00 -0000 (UTC)",
    ),
    (
        b"Hans \t  Mueller\t<m@example.org>",
        b"Long\r\n folded\r\n\tsubject",
        b"Mon,  7 Dec 2026 08:00:00 +0100\r\n (CET)",
    ),
    (b"h@example.org", b"tab\there\t\tand", b"Tue, 31 Feb 2026 08:00:00 +0100"),
    (b"<h@example.org>", b"=?utf-8?q?a?= =?utf-8?q?b?=", b"Mon, 7 Dec 26 08:00:00 EST"),
    (b"h@example.org (Hans Comment)", b"Roh \xc3\xa4", b""),
    (b"Hans (the man) <h@example.org>", b"Latin \xe4", None),
    (b'"Hans \\"Q\\" Mueller" <h@example.org>', b"", b"Mon, 7 Dec 2026 08:00:00 +0100"),
    (b"undisclosed-recipients:;", None, b"Mon, 7 Dec 2026 08:00:00 +0100"),
    (b"Gruppe: a@x.org, b@y.org;", b"Gruppe", b"Mon, 7 Dec 2026 08:00:00 +0100"),
    (b"nobody", b"nobody", b"Mon, 7 Dec 2026 08:00:00 +0100"),
    (b"", b"empty from", b"Mon, 7 Dec 2026 08:00:00 +0100"),
    (None, b"no from", b"Mon, 7 Dec 2026 08:00:00 +0100"),
    (b"a@x.org, b@y.org", b"two", b"Mon, 7 Dec 2026 08:00:00 +0100"),
    (b"Hans <h@example.org", b"open bracket", b"Mon, 7 Dec 2026 08:00:00 +0100"),
    (b'"" <empty@example.org>', b"empty name", b"Mon, 7 Dec 2026 08:00:00 +0100"),
    (b"Hans\r\n Mueller\r\n <h@example.org>", b"folded from", b"Mon, 7 Dec 2026 08:00:00 +0100"),
    (
        b"=?iso-8859-1?b?SuRnZXI=?= <j@example.org>",
        b"=?iso-8859-1?q?J=E4ger?=",
        b"Mon, 7 Dec 2026 08:00:00 +0100",
    ),
    (b"M\xc3\xbcller Roh <raw@example.org>", b"raw name", b"Mon, 7 Dec 2026 08:00:00 +0100"),
    (b"=?utf-8?q?broken <b@example.org>", b"=?utf-8?q?broken", b"Mon, 7 Dec 2026 08:00:00 +0100"),
    (
        b'"=?utf-8?q?M=C3=BCller?=" <q@example.org>',
        b"quoted encoded",
        b"Mon, 7 Dec 2026 08:00:00 +0100",
    ),
    (b"h@[127.0.0.1]", b"literal host", b"Mon, 7 Dec 2026 08:00:00 +0100"),
    (b'Hans <"odd local"@example.org>', b"quoted local", b"Mon, 7 Dec 2026 08:00:00 +0100"),
    (b'"odd local"@example.org', b"quoted local, no name", b"Mon, 7 Dec 2026 08:00:00 +0100"),
    (b"Hans <@route.org:h@example.org>", b"route", b"Mon, 7 Dec 2026 08:00:00 +0100"),
    (b"  Hans  <  h@example.org  >  ", b"spaces in brackets", b"Mon, 7 Dec 2026 08:00:00 +0100"),
    (b"Dr. Hans.Dot <h@example.org>", b"dots", b"Mon, 7 Dec 2026 08:00:00 +0100"),
    (b"Hans . Dot <h@example.org>", b"dot alone", b"Mon, 7 Dec 2026 08:00:00 +0100"),
    (b'"Hans   Two\tTabs" <h@example.org>', b"quoted spaces", b"Mon, 7 Dec 2026 08:00:00 +0100"),
    (b"Hans Mueller <h@example.org>, b@y.org", b"two, named", b"Mon, 7 Dec 2026 08:00:00 +0100"),
    (b"Hans! #1 $x <h@example.org>", b"atext", b"Mon, 7 Dec 2026 08:00:00 +0100"),
]


def test_the_list_shows_what_envelope_showed(mail, world):
    """The list reads From, Subject and Date from the raw header fields (not ENVELOPE):
    every row shows the same subject, sender and date as Dovecot's ENVELOPE read through
    IMAPClient did, for encoded words, umlauts, folding and odd senders."""
    with webmail.mailbox(world.teacher_7a) as imap:
        imap.create_folder("Rohform")
        try:
            for from_, subject, date in ODD_HEADERS:
                head = [
                    name + b": " + value + b"\r\n"
                    for name, value in ((b"From", from_), (b"Subject", subject), (b"Date", date))
                    if value is not None
                ]
                imap.append("Rohform", b"".join(head) + b"To: x@example.org\r\n\r\nText\r\n")
            first = webmail.page(imap, "Rohform", 1)
            rows = first.messages + webmail.page(imap, "Rohform", 2).messages
            imap.select_folder("Rohform", readonly=True)
            envelopes = imap.fetch([row.uid for row in rows], ["ENVELOPE"])
        finally:
            imap.select_folder("INBOX")
            imap.delete_folder("Rohform")
    assert first.total == len(ODD_HEADERS) == len(rows)
    shown = [(row.subject, row.sender, row.date) for row in rows]
    expected = [
        (
            webmail._text(envelopes[row.uid][b"ENVELOPE"].subject),
            webmail._sender(envelopes[row.uid][b"ENVELOPE"]),
            envelopes[row.uid][b"ENVELOPE"].date,
        )
        for row in rows
    ]
    assert [pair for pair in zip(shown, expected, strict=True) if pair[0] != pair[1]] == []
    by_subject = {subject: (sender, date) for subject, sender, date in shown}
    assert by_subject["Grüße"][0] == "Müller, Hans"
    assert by_subject["Re: Äpfel und Birnen"][0] == "Müller Hans"
    assert by_subject["Jäger"][0] == "Jäger"
    assert by_subject["Plain"][1] is not None
    assert by_subject["Long folded subject"][0] == "Hans Mueller"
    assert by_subject["Roh ä"][0] == "Hans Comment"


def test_a_page_of_plain_senders_is_one_fetch(mail, world, imap_traffic):
    """Only a sender the list cannot read from its plain shape costs a second FETCH
    (ENVELOPE, for that row alone)."""
    title = f"Ein Abruf {uuid.uuid4().hex[:6]}"
    deliver(mail, world.teacher_7a, title)
    imap_traffic.clear()
    with webmail.mailbox(world.teacher_7a) as imap:
        rows = webmail.page(imap, "INBOX", 1, title).messages
    assert [(row.subject, row.sender) for row in rows] == [(title, "Eltern")]
    assert [c for c in imap_traffic.commands if b"FETCH" in c] == [[b"UID", b"FETCH"]]
