"""Real Postfix and Dovecot with Kreide as directory and policy: mail programs' view."""

from __future__ import annotations

import imaplib
import re
import smtplib
import tempfile
import uuid
from pathlib import Path

import dkim
import pytest

from kreide.accounts.models import User
from kreide.files.models import AppPassword
from kreide.files.services import app_password_hash
from kreide.mail import process
from kreide.mail.models import MailPolicy
from kreide.mail.services import address_of
from tests.conftest import PASSWORD
from tests.mail.conftest import delivered, free_base, imap_login, needs_servers, submit

pytestmark = [needs_servers, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def subject() -> str:
    return f"Test {uuid.uuid4().hex[:10]}"


def test_submission_with_login_delivers_to_another_students_inbox(mail, world):
    title = subject()
    refused = submit(mail, world.student_7a, [address_of(world.classmate_7a)], title)
    assert refused == {}
    assert delivered(mail, world.classmate_7a, title)


def test_a_class_list_reaches_every_member(mail, world):
    title = subject()
    submit(mail, world.teacher_7a, ["klasse-7a@nord.kreide.test"], title)
    for member in (world.student_7a, world.classmate_7a, world.teacher_7a):
        assert delivered(mail, member, title)
    assert not delivered(mail, world.student_7b, title, wait=0)


def test_a_student_may_not_write_to_a_whole_class(mail, world):
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        submit(mail, world.student_7a, ["klasse-7a@nord.kreide.test"], subject())
    code, text = refused.value.recipients["klasse-7a@nord.kreide.test"]
    assert code == 554
    assert b"Only teachers and the school office" in text


def test_students_may_not_write_outside_the_school_by_default(mail, world):
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        submit(mail, world.student_7a, ["someone@example.org"], subject())
    assert b"outside the school" in refused.value.recipients["someone@example.org"][1]
    # Another school on the same server is outside too.
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        submit(mail, world.student_7a, [address_of(world.other_student)], subject())


def test_school_policy_lets_students_write_outside(mail, world):
    MailPolicy.objects.for_school(world.school).create(students_external=True)
    # Past Kreide's policy; then refused only because this server has no relay host.
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        submit(mail, world.student_7a, ["someone@example.org"], subject())
    assert b"no relay host" in refused.value.recipients["someone@example.org"][1]


def test_one_may_send_only_as_oneself(mail, world):
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        submit(
            mail,
            world.student_7a,
            [address_of(world.classmate_7a)],
            subject(),
            sender=address_of(world.teacher_7a),
        )
    assert b"send only as" in refused.value.recipients[address_of(world.classmate_7a)][1]


def test_inbound_mail_from_outside_reaches_staff_not_students(mail, world):
    title = subject()
    with smtplib.SMTP(mail.mail.host, mail.mail.ports.smtp, timeout=10) as smtp:
        refused = smtp.sendmail(
            "parent@example.org",
            [address_of(world.teacher_7a), address_of(world.student_7a)],
            f"Subject: {title}\r\n\r\nHallo",
        )
    assert refused[address_of(world.student_7a)][0] == 554
    assert address_of(world.teacher_7a) not in refused
    assert delivered(mail, world.teacher_7a, title)


def test_wrong_password_over_imap_counts_towards_the_lockout(mail, world, settings, client):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    login = address_of(world.student_7a)
    for _attempt in range(3):
        with pytest.raises(imaplib.IMAP4.error):
            imap_login(mail, login, "wrong-password")
    # Locked out now: even the right password is refused, on the web as well.
    with pytest.raises(imaplib.IMAP4.error):
        imap_login(mail, login, PASSWORD)
    response = client.post(
        "/accounts/login/", {"username": world.student_7a.username, "password": PASSWORD}
    )
    assert "Zu viele fehlgeschlagene Anmeldeversuche" in response.content.decode()


def test_login_by_username_or_address(mail, world):
    for login in (world.student_7a.username, address_of(world.student_7a)):
        client = imap_login(mail, login)
        assert client.select("INBOX")[0] == "OK"
        client.logout()


def test_a_deactivated_account_is_refused_at_once(mail, world):
    imap_login(mail, address_of(world.student_7a)).logout()  # remembered by Dovecot now
    from kreide.accounts import services as accounts

    accounts.set_active(world.admin, world.student_7a, False)
    with pytest.raises(imaplib.IMAP4.error):
        imap_login(mail, address_of(world.student_7a))
    with pytest.raises(smtplib.SMTPAuthenticationError):
        submit(mail, world.student_7a, [address_of(world.classmate_7a)], subject())


def test_an_account_that_must_change_its_password_is_refused(mail, world):
    User.objects.filter(pk=world.student_7a.pk).update(must_change_password=True)
    with pytest.raises(imaplib.IMAP4.error) as refused:
        imap_login(mail, address_of(world.student_7a))
    assert b"initial password" in str(refused.value).encode()


def test_two_factor_accounts_sign_in_with_an_app_password(mail, world):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.create(user=world.teacher_7a, confirmed=True)
    with pytest.raises(imaplib.IMAP4.error):
        imap_login(mail, address_of(world.teacher_7a))
    AppPassword.objects.for_school(world.school).create(
        user=world.teacher_7a, name="Thunderbird", secret_sha256=app_password_hash("a" * 32)
    )
    client = imap_login(mail, address_of(world.teacher_7a), "a" * 32)
    assert client.select("INBOX")[0] == "OK"
    client.logout()


def test_logins_go_on_while_kreide_is_down(mail, world, make_user):
    """Bulkhead: Dovecot remembers a successful login briefly (a salted hash, never the
    password), so mail programs that signed in before keep working while Kreide is down."""
    imap_login(mail, address_of(world.student_7a)).logout()
    newcomer = make_user(world.school)
    mail.kreide_side.stop()
    client = imap_login(mail, address_of(world.student_7a))
    assert client.select("INBOX")[0] == "OK"
    client.logout()
    with pytest.raises(imaplib.IMAP4.error):
        imap_login(mail, address_of(newcomer))  # never signed in: nothing remembered
    with pytest.raises(imaplib.IMAP4.error):
        imap_login(mail, address_of(world.student_7a), "wrong-password")


def published_dkim_record(mail) -> bytes:
    """The TXT record as DNS would serve it from the zone line Kreide writes (and
    `kreide mail-config` prints): the quoted strings of the record, joined."""
    return "".join(re.findall(r'"([^"]*)"', mail.mail.dkim_record.read_text())).encode()


def test_mail_leaving_postfix_is_dkim_signed_for_the_school_domain(mail, world, settings):
    """The signature OpenDKIM adds verifies against the published key (looked up as a
    receiver would, at <selector>._domainkey.<school domain>); a changed body does not."""
    mail.refresh_dkim()  # as `kreide mail-start` does when schools change
    title = subject()
    submit(mail, world.teacher_7a, [address_of(world.student_7a)], title)
    assert delivered(mail, world.student_7a, title)
    client = imap_login(mail, address_of(world.student_7a))
    client.select("INBOX", readonly=True)
    _status, found = client.search(None, "SUBJECT", f'"{title}"')
    _status, data = client.fetch(found[0].split()[-1], "(BODY.PEEK[])")
    client.logout()
    message = data[0][1]
    headers, _blank, body = message.partition(b"\r\n\r\n")
    assert b"DKIM-Signature:" in headers
    assert b"d=nord.kreide.test" in headers and b"s=kreide" in headers

    record = published_dkim_record(mail)
    assert record.startswith(b"v=DKIM1;") and b"p=MII" in record
    published = f"{settings.MAIL_DKIM_SELECTOR}._domainkey.nord.kreide.test."
    asked = []

    def dns(name: bytes, timeout: int = 5) -> bytes | None:
        asked.append(name.decode())
        return record if name.decode() == published else None

    assert dkim.verify(message, dnsfunc=dns)
    assert asked == [published]
    tampered = headers + b"\r\n\r\n" + body.replace(b"Hallo!", b"Hallo?")
    assert tampered != message
    assert not dkim.verify(tampered, dnsfunc=dns)
    forged_subject = message.replace(title.encode(), b"Test forged")
    assert not dkim.verify(forged_subject, dnsfunc=dns)


def test_kreides_own_mails_go_out_through_the_same_postfix(mail, world):
    from django.core.mail import EmailMessage as DjangoMessage

    from kreide.mail.backends import LocalServerBackend

    title = subject()
    message = DjangoMessage(
        title, "Ihr Passwort-Link", "kreide@localhost", [address_of(world.admin)]
    )
    assert LocalServerBackend().send_messages([message]) == 1
    assert delivered(mail, world.admin, title)


def test_a_hijacked_student_account_cannot_send_spam(mail, world, settings):
    settings.MAIL_RECIPIENTS_PER_HOUR = 2
    submit(mail, world.student_7a, [address_of(world.classmate_7a)], subject())
    submit(mail, world.student_7a, [address_of(world.student_7b)], subject())
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        submit(mail, world.student_7a, [address_of(world.teacher_7a)], subject())
    code, text = refused.value.recipients[address_of(world.teacher_7a)]
    assert code == 450 and b"Too many recipients" in text


def test_every_mailbox_has_the_configured_quota(mail, world, settings):
    client = imap_login(mail, address_of(world.student_7a))
    _status, (_roots, quotas) = client.getquotaroot("INBOX")
    client.logout()
    assert f"STORAGE 0 {settings.MAIL_QUOTA_MB * 1024}".encode() in quotas[0]


def test_a_running_postfix_is_known_without_a_fork(mail_servers, monkeypatch):
    """The supervisor asks every few seconds: while start-fg waits for its master, no
    `postfix status` script runs."""
    forks = []
    monkeypatch.setattr(process.subprocess, "run", lambda *args, **kwargs: forks.append(args))
    assert mail_servers.postfix_running()
    assert forks == []


def test_the_webmails_own_port_listens_on_loopback_only():
    """An operator may set KREIDE_MAIL_HOST to a public address; the webmail's port, where
    Dovecot reuses its processes, stays on loopback (127.0.0.2 stands in for the public
    address here)."""
    root = Path(tempfile.mkdtemp(prefix="kreide-mail-host-"))
    root.chmod(0o755)
    mail = process.layout(root / "mail", host="127.0.0.2", base=free_base())
    process.write_config(mail)
    servers = process.MailServers(mail)
    try:
        servers.start_dovecot()
        assert process.answers("127.0.0.2", mail.ports.imap)  # the mail programs' port
        assert process.answers(process.WEBMAIL_HOST, mail.ports.webmail)
        assert not process.answers("127.0.0.2", mail.ports.webmail)
    finally:
        servers.stop()
        process.remove(mail)
        root.rmdir()
