"""Run Postfix and Dovecot for Kreide: write their configuration and start them.

Used by `kreide mail-config` (configuration only), `kreide mail-start` (for `make run`)
and the test fixtures, so all run the servers the same way: their own directories under
the mail directory, unprivileged loopback ports (a base plus fixed offsets), never the
system's /etc/postfix instance. Processes are stopped by their PID, never by name.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

from django.conf import settings
from redis.connection import UnixDomainSocketConnection, parse_url

from kreide.mail import services

DOVECOT = "/usr/sbin/dovecot"
DOVEADM = "/usr/bin/doveadm"
POSTFIX = "/usr/sbin/postfix"
OPENDKIM = "/usr/sbin/opendkim"
OPENDKIM_GENKEY = "/usr/sbin/opendkim-genkey"
AUTH_LUA = "/usr/lib/dovecot/modules/auth/libauthdb_lua.so"
TEMPLATES = Path(settings.BASE_DIR) / "scripts" / "mail" / "templates"
# The webmail's own IMAP port (Dovecot reuses its processes there) listens on loopback
# whatever KREIDE_MAIL_HOST says: Kreide's web workers run on the mail servers' machine.
WEBMAIL_HOST = "127.0.0.1"
# Dovecot keeps each INBOX's unseen count in Kreide's Redis (notify_status) this long after
# its last change: the bound on a count left behind by a write Redis missed.
UNSEEN_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class Ports:
    """Every port is the base plus a fixed offset (documented in docs/mail.md)."""

    base: int

    @property
    def lmtp(self) -> int:
        return self.base + 24

    @property
    def smtp(self) -> int:
        return self.base + 25

    @property
    def system(self) -> int:
        return self.base + 26

    @property
    def socketmap(self) -> int:
        return self.base + 30

    @property
    def policy(self) -> int:
        return self.base + 31

    @property
    def auth(self) -> int:
        return self.base + 32

    @property
    def sasl(self) -> int:
        return self.base + 33

    @property
    def dkim(self) -> int:
        return self.base + 34

    @property
    def imap(self) -> int:
        return self.base + 43

    @property
    def webmail(self) -> int:
        """Kreide's own webmail only (on WEBMAIL_HOST): Dovecot reuses its processes here."""
        return self.base + 44

    @property
    def submission(self) -> int:
        return self.base + 87


def missing() -> str:
    """Why mail cannot run here ("" when it can)."""
    absent = [path for path in (DOVECOT, POSTFIX, AUTH_LUA) if not Path(path).exists()]
    if absent:
        return (
            "Postfix and Dovecot are not installed (apt-get install postfix dovecot-imapd "
            "dovecot-lmtpd dovecot-auth-lua lua-socket)"
        )
    if os.geteuid() != 0:
        return "Postfix's master process must be started as root"
    return ""


@dataclass
class MailLayout:
    root: Path
    host: str
    ports: Ports

    @property
    def config_dir(self) -> Path:
        return self.root / "config"

    @property
    def postfix_dir(self) -> Path:
        return self.root / "config" / "postfix"

    @property
    def mailboxes(self) -> Path:
        return self.root / "mailboxes"

    @property
    def log_dir(self) -> Path:
        return self.root / "log"

    @property
    def dovecot_conf(self) -> Path:
        return self.config_dir / "dovecot.conf"

    @property
    def dkim_key(self) -> Path:
        return self.config_dir / "dkim" / f"{settings.MAIL_DKIM_SELECTOR}.private"

    @property
    def dkim_record(self) -> Path:
        """The TXT record to publish at <selector>._domainkey.<school domain>."""
        return self.config_dir / "dkim" / f"{settings.MAIL_DKIM_SELECTOR}.txt"


def dkim_available() -> bool:
    return Path(OPENDKIM).exists() and Path(OPENDKIM_GENKEY).exists()


def layout(
    root: Path | None = None, host: str | None = None, base: int | None = None
) -> MailLayout:
    return MailLayout(
        Path(root or settings.MAIL_DIR),
        host or settings.MAIL_HOST,
        Ports(base or settings.MAIL_PORT_BASE),
    )


def unseen_prefix() -> str:
    """The start of the Redis keys Dovecot writes the INBOXes' unseen counts to; "" where
    it writes none (`unseen_dict`). A key is `<prefix><address>/status/INBOX`: Dovecot's
    redis dict puts a private ("priv/") key under the user's name, and notify_status names
    it `priv/status/<mailbox>`."""
    prefix = settings.CACHE_PREFIX
    if (
        ":" in prefix
        or _redis_for_dovecot(settings.REDIS_URL, bool(settings.REDIS_SENTINELS)) is None
    ):
        return ""
    return f"{prefix}/unseen/"


@functools.lru_cache(maxsize=4)
def _redis_for_dovecot(url: str, sentinels: bool) -> dict | None:
    """Kreide's Redis as redis-py reads its URL, or None where Dovecot's redis dict cannot
    reach it: no Redis (the embedded default), Sentinels (it knows one address), TLS, an
    ACL user, or a ':' in the password (the dict URI's separator)."""
    if not url or sentinels:
        return None
    found = parse_url(url)
    if found.get("connection_class") not in (None, UnixDomainSocketConnection):
        return None  # TLS
    if found.get("username") or ":" in (found.get("password") or ""):
        return None
    return found


def unseen_dict() -> str:
    """Dovecot's dict URI for Kreide's Redis ("" where it cannot reach it). Its redis dict
    wants an IP address: a host name is looked up now."""
    prefix = unseen_prefix()
    if not prefix:
        return ""
    found = _redis_for_dovecot(settings.REDIS_URL, bool(settings.REDIS_SENTINELS))
    if "path" in found:
        where = f"path={found['path']}"
    else:
        # IPv4: an IPv6 address's colons would split the URI.
        address = socket.getaddrinfo(found["host"], None, socket.AF_INET)[0][4][0]
        where = f"host={address}:port={found.get('port', 6379)}"
    password = f":password={found['password']}" if found.get("password") else ""
    return (
        f"redis:{where}:db={found.get('db', 0)}{password}:prefix={prefix}"
        f":expire_secs={UNSEEN_SECONDS}:timeout_msecs={int(settings.REDIS_TIMEOUT * 1000)}"
    )


def _render(template: str, target: Path, values: dict, mode: int = 0o644) -> None:
    target.write_text(Template((TEMPLATES / template).read_text()).substitute(values))
    target.chmod(mode)


def write_config(mail: MailLayout, *, auth_failure_delay: str = "2 secs") -> None:
    """Write Dovecot's and Postfix's configuration for this Kreide into mail.root."""
    for directory in (
        mail.config_dir,
        mail.postfix_dir,
        mail.log_dir,
        mail.root / "run",
        mail.root / "postfix-queue",
        mail.root / "postfix-data",
    ):
        directory.mkdir(parents=True, exist_ok=True)
    # Dovecot's login processes run as unprivileged users: they must reach the run dir.
    for directory in (mail.root, mail.root / "run", mail.config_dir):
        directory.chmod(0o755)
    internal = pwd.getpwnam("dovecot") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
    login = pwd.getpwnam("dovenull") if os.geteuid() == 0 else internal
    mail.mailboxes.mkdir(parents=True, exist_ok=True)
    os.chown(mail.mailboxes, internal.pw_uid, internal.pw_gid)
    relay = settings.MAIL_RELAY_HOST
    values = {
        "host": mail.host,
        "instance": hashlib.sha256(str(mail.root).encode()).hexdigest()[:8],
        "run_dir": mail.root / "run",
        "log_dir": mail.log_dir,
        "config_dir": mail.config_dir,
        "mail_root": mail.mailboxes,
        "internal_user": internal.pw_name,
        "internal_group": internal.pw_name,
        "login_user": login.pw_name,
        "mail_uid": internal.pw_uid,
        "mail_gid": internal.pw_gid,
        "auth_failure_delay": auth_failure_delay,
        "auth_cache_ttl": f"{settings.MAIL_AUTH_CACHE_SECONDS} secs",
        "quota_mb": settings.MAIL_QUOTA_MB,
        "postmaster_domain": settings.MAIL_HOSTNAME,
        "hostname": settings.MAIL_HOSTNAME,
        "queue_dir": mail.root / "postfix-queue",
        "data_dir": mail.root / "postfix-data",
        "imap_port": mail.ports.imap,
        "webmail_host": WEBMAIL_HOST,
        "webmail_port": mail.ports.webmail,
        "lmtp_port": mail.ports.lmtp,
        "sasl_port": mail.ports.sasl,
        "auth_port": mail.ports.auth,
        "lookup_port": mail.ports.socketmap,
        "policy_port": mail.ports.policy,
        "smtp_port": mail.ports.smtp,
        "submission_port": mail.ports.submission,
        "system_port": mail.ports.system,
        "relay_host": relay,
        # Without a relay host nothing leaves the machine (tests, a school without one).
        "default_transport": "smtp" if relay else "error:5.7.1 no relay host is configured",
        "outbound_comment": "KREIDE_MAIL_RELAY_HOST",
        "message_size_limit": settings.MAIL_MESSAGE_MAX_BYTES,
        "milters": f"inet:{mail.host}:{mail.ports.dkim}" if dkim_available() else "",
        "dkim_port": mail.ports.dkim,
        "dkim_user": "opendkim" if os.geteuid() == 0 else internal.pw_name,
    }
    _render("dovecot.conf", mail.dovecot_conf, values | _unseen_values())
    _render("kreide-auth.lua", mail.config_dir / "kreide-auth.lua", values)
    _render("main.cf", mail.postfix_dir / "main.cf", values)
    _render("master.cf", mail.postfix_dir / "master.cf", values)
    if dkim_available():
        _write_dkim(mail, values)
    digest = base64.b64encode(hashlib.sha256(services.master_secret().encode()).digest()).decode()
    master_users = mail.config_dir / "dovecot-master-users"
    master_users.write_text(f"{services.MASTER_USER}:{{SHA256}}{digest}\n")
    master_users.chmod(0o640)
    os.chown(master_users, 0 if os.geteuid() == 0 else -1, internal.pw_gid)


def _unseen_values() -> dict[str, str]:
    """With Kreide's Redis: every process that changes an INBOX (LMTP delivery, IMAP from
    the webmail or a mail program) writes its unseen count there (notify_status), which
    the navigation reads with the page's other keys instead of an IMAP STATUS."""
    uri = unseen_dict()
    if not uri:
        return {"unseen_plugins": "", "unseen_settings": ""}
    return {
        "unseen_plugins": " notify notify_status",
        "unseen_settings": (
            f"  notify_status_dict = {uri}\n"
            "  notify_status_mailbox = INBOX\n"
            "  notify_status_value = %%{unseen}\n"
        ),
    }


def _write_dkim(mail: MailLayout, values: dict) -> None:
    """OpenDKIM's configuration, and the signing key on first use (kept afterwards: its
    public half is in the schools' DNS)."""
    selector = settings.MAIL_DKIM_SELECTOR
    key_dir = mail.dkim_key.parent
    key_dir.mkdir(exist_ok=True)
    if not mail.dkim_key.exists():
        subprocess.run(
            [OPENDKIM_GENKEY, "-b", "2048", "-D", str(key_dir), "-s", selector, "-d", "school"],
            check=True,
            capture_output=True,
        )
    owner = pwd.getpwnam(values["dkim_user"])
    for path in (key_dir, mail.dkim_key):
        os.chown(path, owner.pw_uid, owner.pw_gid)
    mail.dkim_key.chmod(0o600)
    write_dkim_domains(mail)
    _render(
        "opendkim.conf",
        mail.config_dir / "opendkim.conf",
        {
            **values,
            "dkim_selector": selector,
            "dkim_key": mail.dkim_key,
            "require_safe_keys": "no" if _world_writable_above(mail.root) else "yes",
        },
    )


def _world_writable_above(path: Path) -> bool:
    return any(parent.stat().st_mode & 0o002 for parent in path.resolve().parents)


def write_dkim_domains(mail: MailLayout) -> bool:
    """The school domains OpenDKIM signs for, from Kreide's schools; True if changed."""
    target = mail.config_dir / "dkim-domains"
    # OpenDKIM wants a non-empty set; compared as written, or no school meant a restart
    # of OpenDKIM on every round of `kreide mail-start`.
    wanted = "".join(f"{domain}\n" for domain in services.all_domains()) or "invalid.\n"
    if target.exists() and target.read_text() == wanted:
        return False
    target.write_text(wanted)
    return True


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """Does a mail server greet on this port? (IMAP "* OK", SMTP "220")"""
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.settimeout(timeout)
            greeting = conn.recv(64)
    except OSError:
        return False
    return greeting.startswith((b"* OK", b"220"))


def dovecot_running(mail: MailLayout) -> bool:
    """Whether Dovecot's master runs, by the PID file it keeps in its base directory
    (removed when it stops) and a signal 0: no connection."""
    try:
        with open(f"{mail.root}/run/dovecot/master.pid") as pid:  # dovecot.conf: base_dir
            os.kill(int(pid.read()), 0)
    except (OSError, ValueError):
        return False
    return True


@dataclass
class MailServers:
    mail: MailLayout
    dovecot: subprocess.Popen | None = None
    postfix: subprocess.Popen | None = None
    opendkim: subprocess.Popen | None = None
    log_files: list = field(default_factory=list)

    def start_dovecot(self, ready_timeout: float = 15.0) -> None:
        log = open(self.mail.log_dir / "dovecot.out", "ab")  # noqa: SIM115 (kept open)
        self.log_files.append(log)
        self.dovecot = subprocess.Popen(
            [DOVECOT, "-c", str(self.mail.dovecot_conf), "-F"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait(self.dovecot, self.mail.ports.imap, "Dovecot", ready_timeout)

    def start_opendkim(self) -> None:
        """The signing milter; Postfix passes mail unsigned while it is not there."""
        if not (self.mail.config_dir / "opendkim.conf").exists():
            return
        log = open(self.mail.log_dir / "opendkim.out", "ab")  # noqa: SIM115 (kept open)
        self.log_files.append(log)
        self.opendkim = subprocess.Popen(
            [OPENDKIM, "-f", "-x", str(self.mail.config_dir / "opendkim.conf")],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while not _listening(self.mail.host, self.mail.ports.dkim):
            if self.opendkim.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"OpenDKIM did not start; see {self.mail.log_dir}")
            time.sleep(0.05)

    def refresh_dkim(self) -> None:
        """A new school or domain: rewrite the signing domains and restart OpenDKIM (a
        second; meanwhile Postfix passes mail unsigned rather than holding it)."""
        if not dkim_available() or not write_dkim_domains(self.mail):
            return
        if self.opendkim is not None and self.opendkim.poll() is None:
            _stop(self.opendkim)
            self.start_opendkim()

    def start_postfix(self, ready_timeout: float = 30.0) -> None:
        log = open(self.mail.log_dir / "postfix.out", "ab")  # noqa: SIM115 (kept open)
        self.log_files.append(log)
        config = str(self.mail.postfix_dir)
        # Creates the queue directories with the owners Postfix expects.
        subprocess.run(
            [POSTFIX, "-c", config, "set-permissions"], stdout=log, stderr=log, check=False
        )
        subprocess.run([POSTFIX, "-c", config, "check"], stdout=log, stderr=log, check=False)
        self.postfix = subprocess.Popen(
            [POSTFIX, "-c", config, "start-fg"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait(self.postfix, self.mail.ports.submission, "Postfix", ready_timeout)

    def _wait(self, process: subprocess.Popen, port: int, name: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not answers(self.mail.host, port):
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {process.returncode}; see {self.mail.log_dir}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not answer in time; see {self.mail.log_dir}")
            time.sleep(0.1)

    def stop_dovecot(self) -> None:
        _stop(self.dovecot)

    def postfix_running(self) -> bool:
        """By Postfix's own PID file: `postfix start-fg` may hand over to its master."""
        # Outside PID 1, start-fg's script waits for its master in the foreground: while it
        # runs, so does Postfix. `postfix status` (a shell script, ~25 ms of CPU) only
        # when it is gone, so the supervisor's idle check is no fork every 5 seconds.
        if self.postfix is not None and self.postfix.poll() is None:
            return True
        return (
            subprocess.run(
                [POSTFIX, "-c", str(self.mail.postfix_dir), "status"],
                capture_output=True,
                timeout=30,
                check=False,
            ).returncode
            == 0
        )

    def stop_postfix(self) -> None:
        """`postfix stop` finds this instance's master by the PID file in its queue."""
        subprocess.run(
            [POSTFIX, "-c", str(self.mail.postfix_dir), "stop"],
            capture_output=True,
            timeout=30,
            check=False,
        )
        _stop(self.postfix)

    def stop(self) -> None:
        self.stop_postfix()
        self.stop_dovecot()
        _stop(self.opendkim)
        for log in self.log_files:
            log.close()
        self.log_files.clear()


def _stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start(mail: MailLayout, **config) -> MailServers:
    """Write the configuration, start Dovecot, then Postfix; bounded waits for each."""
    reason = missing()
    if reason:
        raise FileNotFoundError(reason)
    write_config(mail, **config)
    servers = MailServers(mail)
    try:
        servers.start_opendkim()
        servers.start_dovecot()
        servers.start_postfix()
    except BaseException:
        servers.stop()
        raise
    return servers


def flush_auth_cache(mail: MailLayout, logins: list[str]) -> None:
    """Forget Dovecot's remembered logins of an account (deactivated, password changed)."""
    if mail.dovecot_conf.exists() and Path(DOVEADM).exists():
        subprocess.run(
            [DOVEADM, "-c", str(mail.dovecot_conf), "auth", "cache", "flush", *logins],
            capture_output=True,
            timeout=10,
            check=False,
        )


def remove(mail: MailLayout) -> None:
    shutil.rmtree(mail.root, ignore_errors=True)
