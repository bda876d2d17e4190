"""Kreide's one settings module: everything comes from KREIDE_* environment variables.

Without any of them the embedded default runs: SQLite, local files, in-process cache and
channel layer, all under KREIDE_DATA_DIR. docs/configuration.md lists every variable.
"""

import secrets
import socket
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

from kreide.core.redis_url import sentinels
from kreide.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("KREIDE_DATA_DIR", str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)
(DATA_DIR / "static").mkdir(exist_ok=True)

DEBUG = env_bool("KREIDE_DEBUG", False)
TESTING = env_bool("KREIDE_TESTING", False)


def _secret_key() -> str:
    """The key from the environment, else one generated once and kept in the data directory."""
    configured = env_str("KREIDE_SECRET_KEY")
    if configured:
        return configured
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("KREIDE_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("KREIDE_CSRF_TRUSTED_ORIGINS", [])
# Behind a TLS-terminating front server the operator sets this to true.
HTTPS = env_bool("KREIDE_HTTPS", False)
# Where people reach Kreide (e.g. https://kreide.schule.example): printed on sign-in slips.
PUBLIC_URL = env_str("KREIDE_PUBLIC_URL", "").rstrip("/")
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_htmx",
    "channels",
    "kreide.core",
    "kreide.schools",
    "kreide.accounts",
    "kreide.dashboard",
    "kreide.storage",
    "kreide.tasks",
    "kreide.files",
    "kreide.messenger",
    "kreide.video",
    "kreide.status",
    "kreide.schedule",
    "kreide.timetable",
    "kreide.parents",
    "kreide.news",
    "kreide.notifications",
    "kreide.transfer",
    "kreide.privacy",
    "kreide.mail",
    "kreide.api",
    # Before the toolkit, so its pages take Kreide's templates.
    "kreide.oidc",
    "kreide.schoolyear",
    "oauth2_provider",
]

MIDDLEWARE = [
    # Django's security and frame headers, each worked out once (kreide/core/middleware.py).
    "kreide.core.middleware.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before sessions and auth: turns requests away without a database query.
    "kreide.core.admission.AdmissionMiddleware",
    "kreide.core.middleware.RequestLogMiddleware",
    # Cached fragments' versions and entries read once per request (kreide/core/fragments.py).
    "kreide.core.fragments.RequestMemoMiddleware",
    # A new browser's sign-in page from its kept page and headers, before the rest.
    "kreide.accounts.middleware.PlainSignInPageMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "kreide.core.middleware.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before anything reads the form: an unreadable one is a 400 here.
    "kreide.core.middleware.UnreadableFormMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's, the user kept per process where Redis says it is current (accounts.keptuser).
    "kreide.accounts.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "kreide.accounts.middleware.ActiveAccountMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "kreide.core.middleware.XFrameOptionsMiddleware",
    "kreide.core.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # A refusal a view lets through is answered in the user's language, never as a 500.
    "kreide.core.errors.RefusalMiddleware",
]

ROOT_URLCONF = "kreide.urls"
WSGI_APPLICATION = "kreide.wsgi.application"
ASGI_APPLICATION = "kreide.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                # Not Django's `i18n` (LANGUAGES, LANGUAGE_CODE, LANGUAGE_BIDI on every
                # render, ~33 Python calls a page): the templates that show the language
                # ask for it with `{% get_current_language %}`.
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "kreide.core.context_processors.kreide",
                "kreide.notifications.context.live",
            ],
            # `{% load i18n %}` with each literal `{% translate %}` kept per language,
            # `{% load static %}` with each literal `{% static %}` kept.
            "libraries": {
                "i18n": "kreide.core.templatetags.kreide_i18n",
                "static": "kreide.core.templatetags.kreide_static",
            },
            # `{% extends %}` with the root template's blocks found once per template.
            "builtins": ["kreide.core.templatetags.kreide_extends"],
        },
    },
]
# The check warns of two template libraries named "i18n" (and "static"): the overrides
# above are on purpose.
SILENCED_SYSTEM_CHECKS = ["templates.W003"]

# --- Database -------------------------------------------------------------------------
DATABASE_URL = env_str("KREIDE_DATABASE_URL")


def database_settings(url: str) -> dict:
    """dj_database_url's settings, plus libpq's multi-host form
    (postgres://kreide@db1:5432,db2:5432/kreide?target_session_attrs=read-write): libpq
    tries the hosts in turn and keeps the one that takes writes, so after a replica is
    promoted every new connection finds the new primary (docs/scale-out.md)."""
    scheme, rest = url.split("://", 1)
    authority, _slash, tail = rest.partition("/")
    credentials, _at, hosts = authority.rpartition("@")
    addresses = [
        host.rpartition(":") if ":" in host else (host, "", "") for host in hosts.split(",")
    ]
    first = f"{scheme}://{credentials}{_at}{hosts.split(',')[0]}/{tail}"
    parsed = dj_database_url.parse(
        first, conn_max_age=env_int("KREIDE_DB_CONN_MAX_AGE", 60), conn_health_checks=True
    )
    postgres = parsed["ENGINE"] == "django.db.backends.postgresql"
    if postgres:  # Django's, with a health check without a round trip
        parsed["ENGINE"] = "kreide.core.postgresql"
    if postgres and env_bool("KREIDE_DB_PREPARED_STATEMENTS", True):
        # PostgreSQL parses and plans every statement sent as text (60–140 µs each, half
        # of its CPU per page); a statement prepared on the connection is planned once
        # (docs/performance.md). psycopg prepares a statement at its second execution on
        # a connection (a statement of several commands never: the first, sent unprepared,
        # tells it apart), keeping the 100 last used. Off behind a PgBouncer in
        # transaction mode older than 1.21 (Debian 12 has 1.18): docs/scale-out.md.
        parsed["OPTIONS"] = {
            **parsed.get("OPTIONS", {}),
            "server_side_binding": True,
            "prepare_threshold": 1,
        }
    if len(addresses) > 1:
        parsed["HOST"] = ",".join(host for host, _colon, _port in addresses)
        parsed["PORT"] = ",".join(port or "5432" for _host, _colon, port in addresses)
    return parsed


if DATABASE_URL:
    DATABASES = {"default": database_settings(DATABASE_URL)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "kreide.sqlite3",
            # WAL lets readers proceed while one writer commits; IMMEDIATE avoids
            # "database is locked" upgrades when several workers write at once.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;"
                ),
            },
            "TEST": {"NAME": env_str("KREIDE_SQLITE_TEST_NAME") or None},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, sessions, channel layer ---------------------------------------------------
# Redis is a cache, never a single point of failure (kreide/core/cache.py): short socket
# timeouts, a circuit breaker per process, and errors read as misses, so pages fall back
# to the database while Redis is away. Counters that enforce a limit fall back to the
# machine's file cache ("local"), which is also the embedded default's cache: shared by
# all worker processes of the machine.
REDIS_URL = env_str("KREIDE_REDIS_URL")
REDIS_TIMEOUT = env_int("KREIDE_REDIS_TIMEOUT_MS", 500) / 1000
CACHE_PREFIX = env_str("KREIDE_CACHE_PREFIX", "kreide")
LOCAL_CACHE = {
    "BACKEND": "kreide.core.cache.FileCache",
    "LOCATION": str(DATA_DIR / "cache"),
    "KEY_PREFIX": CACHE_PREFIX,
    "OPTIONS": {"MAX_ENTRIES": 50_000},
}
REDIS_SENTINELS = sentinels(REDIS_URL) if REDIS_URL else None
if REDIS_URL:
    REDIS_OPTIONS = {
        "SOCKET_CONNECT_TIMEOUT": REDIS_TIMEOUT,
        "SOCKET_TIMEOUT": REDIS_TIMEOUT,
        "IGNORE_EXCEPTIONS": True,
        "CONNECTION_POOL_CLASS": "kreide.core.cache.BreakerConnectionPool",
    }
    REDIS_HOST = {
        "address": REDIS_URL,
        "socket_connect_timeout": REDIS_TIMEOUT,
        "socket_timeout": REDIS_TIMEOUT,
    }
    if REDIS_SENTINELS:
        # Every read and write goes to the master (a replica's answer may be behind it:
        # counters and sessions want what was just written).
        REDIS_OPTIONS |= {
            "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
            "CONNECTION_POOL_CLASS": "kreide.core.cache.BreakerSentinelConnectionPool",
            "SENTINELS": list(REDIS_SENTINELS.hosts),
            "SENTINEL_KWARGS": REDIS_SENTINELS.sentinel_kwargs(REDIS_TIMEOUT),
            "PASSWORD": REDIS_SENTINELS.password,
        }
        REDIS_HOST = {
            "master_name": REDIS_SENTINELS.service,
            "sentinels": list(REDIS_SENTINELS.hosts),
            "sentinel_kwargs": REDIS_SENTINELS.sentinel_kwargs(REDIS_TIMEOUT),
            "db": REDIS_SENTINELS.db,
            "password": REDIS_SENTINELS.password,
            "socket_connect_timeout": REDIS_TIMEOUT,
            "socket_timeout": REDIS_TIMEOUT,
        }
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            # With Sentinels: the service's master (the host part names the service).
            "LOCATION": (
                f"redis://{REDIS_SENTINELS.service}/{REDIS_SENTINELS.db}"
                if REDIS_SENTINELS
                else REDIS_URL
            ),
            "KEY_PREFIX": CACHE_PREFIX,
            "OPTIONS": REDIS_OPTIONS,
        },
        "local": LOCAL_CACHE,
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_HOST], "prefix": CACHE_PREFIX},
        }
    }
else:
    CACHES = {"default": LOCAL_CACHE, "local": LOCAL_CACHE}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Sessions live in the database and are read through the cache: a returning student
# costs no database query for the session at 8:00, and still gets in while Redis is away
# (kreide/core/sessions.py: Django's cached_db, safe against a Redis returning old data).
SESSION_ENGINE = "kreide.core.sessions"
SESSION_COOKIE_AGE = 60 * 60 * 24 * 30  # "stay signed in": 30 days per device
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "kreide.core.errors.csrf_failure"

# --- Authentication -------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["kreide.accounts.backends.UsernameOrEmailBackend"]
PASSWORD_HASHERS = [
    "kreide.accounts.hashers.OwaspArgon2idHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "dashboard:home"
LOGOUT_REDIRECT_URL = "accounts:login"
# Failed sign-ins before a temporary lockout, and its length.
LOGIN_FAILURES_PER_ACCOUNT = env_int("KREIDE_LOGIN_FAILURES_PER_ACCOUNT", 5)
LOGIN_FAILURES_PER_ADDRESS = env_int("KREIDE_LOGIN_FAILURES_PER_ADDRESS", 30)
LOGIN_LOCKOUT_SECONDS = env_int("KREIDE_LOGIN_LOCKOUT_SECONDS", 15 * 60)
OTP_TOTP_ISSUER = "Kreide"

# --- Single sign-on: Kreide as OpenID Connect provider (docs/sso.md) ----------------------
OAUTH2_PROVIDER_APPLICATION_MODEL = "oidc.Client"
OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    # The signing keys live in the database (kreide.oidc.keys); the toolkit only needs to
    # know that RS256 is offered.
    "OIDC_RSA_PRIVATE_KEY": "kept in the database",
    # Empty: the issuer is the address the site is reached at.
    "OIDC_ISS_ENDPOINT": env_str("KREIDE_OIDC_ISSUER"),
    "OAUTH2_VALIDATOR_CLASS": "kreide.oidc.claims.KreideValidator",
    "SCOPES": {
        "openid": "OpenID Connect",
        "profile": "Name and user name",
        "email": "E-mail address",
        "school": "School",
        "roles": "Role",
        "groups": "Classes and groups",
    },
    "DEFAULT_SCOPES": ["openid"],
    "ACCESS_TOKEN_EXPIRE_SECONDS": env_int("KREIDE_OIDC_TOKEN_SECONDS", 3600),
    "ID_TOKEN_EXPIRE_SECONDS": env_int("KREIDE_OIDC_TOKEN_SECONDS", 3600),
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "REFRESH_TOKEN_EXPIRE_SECONDS": env_int("KREIDE_OIDC_REFRESH_SECONDS", 30 * 24 * 3600),
    "ROTATE_REFRESH_TOKEN": True,
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
    "OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT": False,
    "OIDC_RP_INITIATED_LOGOUT_ACCEPT_EXPIRED_TOKENS": True,
}

# --- Internationalisation -------------------------------------------------------------
LANGUAGE_CODE = "de"
LANGUAGES = [("de", _("German")), ("en", _("English"))]
FORMAT_MODULE_PATH = ["kreide.core.formats"]
LOCALE_PATHS = [BASE_DIR / "kreide" / "locale"]
TIME_ZONE = env_str("KREIDE_TIME_ZONE", "Europe/Berlin")
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files --------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
# Only the built files pages load: test tools in node_modules (axe-core) never reach /static/.
STATICFILES_DIRS = [
    (f"vendor/{package}/dist", BASE_DIR / "node_modules" / package / "dist")
    for package in ("htmx.org", "tus-js-client")
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Hashed names and far-future caching once collected; the tests serve from finders.
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if TESTING
            else "kreide.core.staticfiles.HashedStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = TESTING
MEDIA_ROOT = DATA_DIR / "media"
# Content-addressed file store shared by tasks, files and the messenger.
STORAGE_DIR = Path(env_str("KREIDE_STORAGE_DIR", str(DATA_DIR / "blobs")))
# "nginx" (X-Accel-Redirect), "apache" (X-Sendfile) or "" (Python serves the file).
DOWNLOAD_OFFLOAD = env_str("KREIDE_DOWNLOAD_OFFLOAD", "")
MAX_UPLOAD_BYTES = env_int("KREIDE_MAX_UPLOAD_BYTES", 200 * 1024 * 1024)
# Unfinished uploads hold disk space for their declared length from the moment they start:
# per account at most this many, together at most this many bytes.
UPLOAD_UNFINISHED_MAX = env_int("KREIDE_UPLOAD_UNFINISHED_MAX", 20)
UPLOAD_UNFINISHED_BYTES = env_int("KREIDE_UPLOAD_UNFINISHED_BYTES", 2 * MAX_UPLOAD_BYTES)
# People's copies of their data (kreide.privacy): where they are built and for how many
# days a finished copy can be downloaded before the nightly housekeeping deletes it.
PRIVACY_EXPORT_DIR = Path(env_str("KREIDE_PRIVACY_EXPORT_DIR", str(DATA_DIR / "privacy")))
PRIVACY_EXPORT_DAYS = env_int("KREIDE_PRIVACY_EXPORT_DAYS", 7)
# Free space uploads leave on the store's disk: a database, logs or sessions sharing it
# keep working when uploads are refused as "storage full".
STORAGE_RESERVE_BYTES = env_int("KREIDE_STORAGE_RESERVE_BYTES", 100 * 1024 * 1024)
# File types nobody at school needs to upload and that harm when opened by mistake; refused
# at every way in (uploads, WebDAV, renaming, moving, copying).
UPLOAD_BLOCKED_EXTENSIONS = frozenset(
    extension.lower().lstrip(".")
    for extension in env_list(
        "KREIDE_UPLOAD_BLOCKED_EXTENSIONS",
        [
            "exe",
            "com",
            "bat",
            "cmd",
            "scr",
            "msi",
            "msp",
            "pif",
            "vbs",
            "vbe",
            "jse",
            "wsf",
            "ps1",
            "lnk",
            "reg",
            "dll",
            "cpl",
            "hta",
            "jar",
            "apk",
        ],
    )
)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Mail -----------------------------------------------------------------------------
EMAIL_HOST = env_str("KREIDE_EMAIL_HOST", "")
EMAIL_PORT = env_int("KREIDE_EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("KREIDE_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = env_str("KREIDE_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = env_bool("KREIDE_EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = env_str("KREIDE_EMAIL_FROM", "kreide@localhost")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    # Through Kreide's own Postfix when it runs, else into the outbox folder.
    else "kreide.mail.backends.LocalServerBackend"
)
EMAIL_FILE_PATH = DATA_DIR / "outbox"

# --- School e-mail (Postfix + Dovecot with Kreide as directory; docs/mail.md) -----------
# "auto": `kreide serve` runs Postfix and Dovecot when they are installed; "off": never.
MAIL = env_str("KREIDE_MAIL", "auto")
MAIL_DIR = Path(env_str("KREIDE_MAIL_DIR", str(DATA_DIR / "mail"))).resolve()
MAIL_HOST = env_str("KREIDE_MAIL_HOST", "127.0.0.1")
# Every mail port is this base plus a fixed offset (docs/mail.md): IMAP base+43,
# submission base+87, inbound SMTP base+25, Kreide's own mails base+26.
MAIL_PORT_BASE = env_int("KREIDE_MAIL_PORT_BASE", 10000)
# A school without its own mail domain gets <school slug>.<this>.
MAIL_DOMAIN_SUFFIX = env_str("KREIDE_MAIL_DOMAIN_SUFFIX", "kreide.test")
MAIL_HOSTNAME = env_str("KREIDE_MAIL_HOSTNAME", "mail.kreide.test")
MAIL_RELAY_HOST = env_str("KREIDE_MAIL_RELAY_HOST", "")
MAIL_QUOTA_MB = env_int("KREIDE_MAIL_QUOTA_MB", 1024)
MAIL_MESSAGE_MAX_BYTES = env_int("KREIDE_MAIL_MESSAGE_MAX_BYTES", 25 * 1024 * 1024)
# Recipients per hour an account may write to (students; staff get ten times as many).
MAIL_RECIPIENTS_PER_HOUR = env_int("KREIDE_MAIL_RECIPIENTS_PER_HOUR", 100)
# How long Dovecot remembers a successful login (salted hash, never the password).
MAIL_AUTH_CACHE_SECONDS = env_int("KREIDE_MAIL_AUTH_CACHE_SECONDS", 300)
# DKIM: the selector of the signing key (DNS: <selector>._domainkey.<school domain>).
MAIL_DKIM_SELECTOR = env_str("KREIDE_MAIL_DKIM_SELECTOR", "kreide")

# --- Real time (messenger WebSockets, served by the separate ASGI process) ---------------
# Behind nginx: KREIDE_REALTIME_URL=/ws/messenger/ (same origin, routed to the ASGI process).
# Unset, browsers connect to the page's host on KREIDE_REALTIME_PORT, which the CSP allows.
REALTIME_URL = env_str("KREIDE_REALTIME_URL", "")
REALTIME_PORT = env_int("KREIDE_REALTIME_PORT", 8001)


def _realtime_connect_sources() -> list[str]:
    if REALTIME_URL.startswith(("ws://", "wss://")):
        scheme, rest = REALTIME_URL.split("://", 1)
        return [f"{scheme}://{rest.split('/', 1)[0]}"]
    if REALTIME_URL:  # a path on this origin: 'self' covers it
        return []
    if any(host.startswith((".", "*")) for host in ALLOWED_HOSTS):
        return [f"ws://*:{REALTIME_PORT}", f"wss://*:{REALTIME_PORT}"]
    # CSP host sources cannot name IPv6 literals such as [::1].
    return [
        f"{scheme}://{host}:{REALTIME_PORT}"
        for host in ALLOWED_HOSTS
        if not host.startswith("[")
        for scheme in ("ws", "wss")
    ]


# --- Notifications (docs/notifications.md) ---------------------------------------------
# Web Push goes only to these push services (a browser's subscription names its endpoint:
# without the list, anyone could make Kreide post to any address). An entry is a host
# reached over https ("*." for its subdomains); "http://host:port" allows one plain origin
# (a push service on loopback in tests and the benchmark).
PUSH_SERVICES = env_list(
    "KREIDE_PUSH_SERVICES",
    [
        "fcm.googleapis.com",
        "updates.push.services.mozilla.com",
        "*.push.apple.com",
        "*.notify.windows.com",
    ],
)
# Who the push services may contact about Kreide's pushes (the VAPID "sub" claim).
PUSH_CONTACT = env_str("KREIDE_PUSH_CONTACT", f"mailto:{DEFAULT_FROM_EMAIL}")
# The hour (local time) after which the daily e-mail digest goes out.
DIGEST_HOUR = env_int("KREIDE_DIGEST_HOUR", 17)


# --- Security headers -----------------------------------------------------------------
# Strict CSP: only our own origin, no inline script or style, nothing third-party.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:"],
        "media-src": ["'self'", "blob:"],
        "connect-src": [
            "'self'",
            *_realtime_connect_sources(),
            *env_list("KREIDE_CSP_CONNECT_EXTRA", []),
        ],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Operations -----------------------------------------------------------------------
# Addresses allowed to read /metrics (Prometheus scrapers); nobody else sees them.
METRICS_ALLOWED_ADDRESSES = env_list("KREIDE_METRICS_ALLOWED", ["127.0.0.1", "::1"])
LOG_LEVEL = env_str("KREIDE_LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "kreide.core.logging.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
    },
}
# Addresses of the front proxies whose X-Forwarded-For is believed (nginx on this host).
TRUSTED_PROXIES = frozenset(env_list("KREIDE_TRUSTED_PROXIES", []))
# Off serves every fragment from the database (for measuring what the cache saves).
FRAGMENT_CACHE_ENABLED = env_bool("KREIDE_FRAGMENT_CACHE", True)

# --- kreide serve ------------------------------------------------------------------------
SERVE_HOST = env_str("KREIDE_HOST", "127.0.0.1")
# This node's name among several (logs, the status sampler's leader, database sessions).
NODE_NAME = env_str("KREIDE_NODE_NAME") or socket.gethostname()
SERVE_PORT = env_int("KREIDE_PORT", 8000)
SERVE_WORKERS = env_int("KREIDE_WORKERS", 2)
# Threads per worker; 0: as many as admission control lets run at once.
SERVE_THREADS = env_int("KREIDE_THREADS", 0)
# "auto": `kreide serve` starts a local Janus when /usr/bin/janus exists.
JANUS = env_str("KREIDE_JANUS", "")

# --- Admission control and the front server (docs/performance.md sizes them) -------------
# Off gives the naive configuration the benchmark compares against.
ADMISSION_ENABLED = env_bool("KREIDE_ADMISSION", True)
# Requests running at once per worker process: enough to overlap database and cache
# waits, few enough that a saturated CPU does not stretch every request.
ADMISSION_IN_FLIGHT = env_int("KREIDE_ADMISSION_IN_FLIGHT", 4)
ADMISSION_QUEUE = env_int("KREIDE_ADMISSION_QUEUE", 8)
# Longest wait in the queue before the request is turned away.
ADMISSION_QUEUE_TIMEOUT_MS = env_int("KREIDE_ADMISSION_QUEUE_TIMEOUT_MS", 1000)
# Password checks (about 30 ms of CPU each here) running at once per worker, and their
# queue. Measured in the 8:00 wave at 6 students/s on one core: with 1, sign-ins queued
# behind each other (p95 320 ms, pages p95 174 ms); with 2, p95 230 ms and pages 137 ms,
# other pages 3-5 ms slower; 3 gained nothing more (bench/results/2026-11-25).
ADMISSION_LOGIN_IN_FLIGHT = env_int("KREIDE_ADMISSION_LOGIN_IN_FLIGHT", 2)
ADMISSION_LOGIN_QUEUE = env_int("KREIDE_ADMISSION_LOGIN_QUEUE", 16)
ADMISSION_HEAVY_IN_FLIGHT = env_int("KREIDE_ADMISSION_HEAVY_IN_FLIGHT", 1)
ADMISSION_HEAVY_QUEUE = env_int("KREIDE_ADMISSION_HEAVY_QUEUE", 2)
# Base of the Retry-After answer in seconds; each answer adds up to as much again.
ADMISSION_RETRY_AFTER = env_int("KREIDE_ADMISSION_RETRY_AFTER", 2)
# What nginx lets into Kreide at once, over all workers (`kreide nginx-config`), and the
# part of it for requests without a session (sign-in form and sign-ins); beyond, nginx
# answers 503 itself. Newcomers who come back with the ticket a refusal gave them, after
# the wait it named, may be as many again, outside the first limit (deploy/nginx.conf).
# 0: derived from the workers and the limits above.
FRONT_LIMIT = env_int("KREIDE_FRONT_LIMIT", 0)
FRONT_NEWCOMERS = env_int("KREIDE_FRONT_NEWCOMERS", 0)
# Where nginx writes a line per refusal, for /status (nginx's master process opens it, so
# nginx's worker user needs no rights there).
FRONT_REFUSAL_LOG = Path(env_str("KREIDE_FRONT_REFUSAL_LOG") or DATA_DIR / "front-refusals.log")
# URL prefixes of heavy work, besides views marked with kreide.core.admission.heavy.
ADMISSION_HEAVY_PATHS = env_list("KREIDE_ADMISSION_HEAVY_PATHS", [])
# Never queued: cheap, cache-only answers an operator needs most under load.
ADMISSION_EXEMPT_PATHS = ["/status", "/healthz", "/readyz", "/metrics", "/static/"]
ADMISSION_LOGIN_PATH = "/accounts/login/"

# --- Messenger and video -----------------------------------------------------------------
# New messages per user and window (seconds): a flood limit, not a quota.
MESSENGER_RATE_LIMIT = env_int("KREIDE_MESSENGER_RATE_LIMIT", 20)
MESSENGER_RATE_WINDOW = env_int("KREIDE_MESSENGER_RATE_WINDOW", 30)
MESSENGER_MAX_ATTACHMENT_BYTES = env_int("KREIDE_MESSENGER_MAX_ATTACHMENT_BYTES", 25 * 1024 * 1024)
# Media servers: "API_URL|BROWSER_URL|CAPACITY[|ADMIN_KEY]", comma-separated.
JANUS_URLS = env_list("KREIDE_JANUS_URLS", [])
# An admission nobody has heard of for this long no longer counts as load (closed tab,
# crashed laptop); the lesson page sends a heartbeat every ~20 s.
VIDEO_STALE_SECONDS = env_int("KREIDE_VIDEO_STALE_SECONDS", 90)
# Spacing of assigned join times in the waiting room, per position.
VIDEO_ADMIT_PACE_SECONDS = env_int("KREIDE_VIDEO_ADMIT_PACE_SECONDS", 5)
VIDEO_HEALTH_SECONDS = env_int("KREIDE_VIDEO_HEALTH_SECONDS", 15)
# The share of the healthy servers' capacity one join window may fill.
VIDEO_JOIN_WINDOW_PERCENT = env_int("KREIDE_VIDEO_JOIN_WINDOW_PERCENT", 50)
