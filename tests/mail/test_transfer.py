"""Mailboxes travel with the school: export, verify and import over real Dovecot."""

from __future__ import annotations

import io
import json
import tarfile
import uuid

import pytest

from kreide.mail import webmail
from kreide.mail.services import address_of
from kreide.transfer import archive
from kreide.transfer.exporter import export_school
from kreide.transfer.importer import ImportRefused, import_archive, verify_file
from tests.mail.conftest import delivered, needs_servers, submit

pytestmark = [needs_servers, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_every_mailbox_goes_into_the_archive_and_comes_back(mail, world, tmp_path):
    title = f"Umzug {uuid.uuid4().hex[:6]}"
    submit(mail, world.teacher_7a, [address_of(world.student_7a)], title)
    assert delivered(mail, world.student_7a, title)
    with webmail.mailbox(world.student_7a) as client:
        client.create_folder("Schule")
        client.append("Schule", b"Subject: Eigener Ordner\r\n\r\nText", flags=[b"\\Flagged"])
    out = tmp_path / "nord.tar"
    manifest = export_school("nord", out)
    assert manifest.mail_index is not None and manifest.mail_index.count >= 2
    assert verify_file(str(out)).mail == manifest.mail
    with tarfile.open(out) as tar:
        index = [json.loads(line) for line in tar.extractfile(archive.MAIL_INDEX)]
    own = [row for row in index if row["username"] == world.student_7a.username]
    assert {row["folder"] for row in own} >= {"INBOX", "Schule"}

    result = import_archive(str(out), replace=True)
    assert result.mails == manifest.mail_index.count
    from kreide.accounts.models import User

    student = User.objects.for_school(result.school_pk).get(username=world.student_7a.username)
    with webmail.mailbox(student) as client:
        assert webmail.page(client, "INBOX", 1, title).total == 1  # once, not twice
        client.select_folder("Schule", readonly=True)
        flags = client.fetch(client.search("ALL"), ["FLAGS"])
        assert [b"\\Flagged" in item[b"FLAGS"] for item in flags.values()] == [True]


def test_a_damaged_mail_fails_verification(mail, world, tmp_path):
    submit(mail, world.teacher_7a, [address_of(world.student_7a)], "Pruefsumme")
    assert delivered(mail, world.student_7a, "Pruefsumme")
    out = tmp_path / "nord.tar"
    manifest = export_school("nord", out)
    damaged = tmp_path / "damaged.tar"
    with tarfile.open(out) as source, tarfile.open(damaged, "w") as target:
        for member in source.getmembers():
            data = source.extractfile(member).read()
            if member.name == archive.mail_path(manifest.mail[0][0]):
                data = data.replace(b"Pr", b"pR", 1)
            target.addfile(member, io.BytesIO(data))
    with pytest.raises(archive.ArchiveError, match="SHA-256"):
        verify_file(str(damaged))


def test_an_archive_with_mail_needs_mail_servers_to_import(mail, world, tmp_path):
    submit(mail, world.teacher_7a, [address_of(world.student_7a)], "Server noetig")
    assert delivered(mail, world.student_7a, "Server noetig")
    out = tmp_path / "nord.tar"
    export_school("nord", out)
    mail.stop_dovecot()
    try:
        with pytest.raises(ImportRefused, match="mail servers are not running"):
            import_archive(str(out), replace=True)
    finally:
        mail.start_dovecot()
