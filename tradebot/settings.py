"""One settings module, driven by the environment (12-factor).

Without DATABASE_URL / REDIS_URL everything runs embedded: SQLite, Celery on an
in-process broker, the in-memory channel layer and a local-memory cache.
"""

from decimal import Decimal
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from tradebot.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_SECRET_KEY = "insecure-tradebot-development-key-change-me"
DEVELOPMENT_ENCRYPTION_KEY = "insecure-tradebot-development-encryption-key"

env = environ.Env()
TESTING = env.bool("TRADEBOT_TESTING", default=False)
# Tests run on what their runner sets (make test, .ci/run), never on a developer's .env.
if not TESTING:
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default=DEFAULT_SECRET_KEY)
if not DEBUG and SECRET_KEY == DEFAULT_SECRET_KEY and not TESTING:
    raise ImproperlyConfigured("Set SECRET_KEY: the default key is only allowed with DEBUG on.")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Served over HTTPS (production): TRADEBOT_HTTPS=on turns each of these on; each can be set on its own.
# Off by default so that `make run` works on http://127.0.0.1.
TRADEBOT_HTTPS = env.bool("TRADEBOT_HTTPS", default=False)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=TRADEBOT_HTTPS)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if TRADEBOT_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=TRADEBOT_HTTPS)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=TRADEBOT_HTTPS)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=TRADEBOT_HTTPS)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=TRADEBOT_HTTPS)
SESSION_COOKIE_HTTPONLY = True
# Behind a proxy that ends TLS: trust its X-Forwarded-Proto (only if the proxy always sets it).
if env.bool("TRADEBOT_BEHIND_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The app serves every asset itself: nothing from elsewhere, no inline script or style.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    # The one <style> a vendored library writes (lightweight-charts 5.2.1's attribution logo), by its hash.
    "style-src": [CSP.SELF, "'sha256-3pRED1tOXas1FXFoPb9TGCjmYe9XQsmO9OV23khV2nY='"],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# Not "daphne": its app only swaps runserver for itself, and importing it (Twisted) costs every command ~0.5 s;
# `manage.py serve` and the Procfile run daphne directly.
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "channels",
    "django_celery_beat",
    "django_htmx",
    "django_prometheus",
    "market",
    "accounts",
    "bots",
    "trades",
    "positions",
    "backtests",
    "analytics",
    "ops",
]

MIDDLEWARE = [
    # First and last: /metrics counts every request and its latency (django-prometheus).
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: every line logged while serving a request carries its request and user ids.
    "tradebot.logs.RequestContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "allauth.usersessions.middleware.UserSessionsMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "tradebot.cache_headers.NoStoreWhenAuthenticated",
    "django_htmx.middleware.HtmxMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "tradebot.urls"
ASGI_APPLICATION = "tradebot.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "bots.live.live_page",
            ],
            "builtins": ["tradebot.template_filters"],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Ticks, the beat scheduler and web requests write concurrently: wait for the lock, use WAL.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# The same backends, counting queries and their errors for /metrics (django-prometheus).
DATABASES["default"]["ENGINE"] = DATABASES["default"]["ENGINE"].replace(
    "django.db.backends", "django_prometheus.db.backends"
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="")
CHANNEL_LAYER_SOCKET_TIMEOUT = 30
WS_GROUP_EXPIRY = env.int("TRADEBOT_WS_GROUP_EXPIRY", default=600)
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # A socket's receive blocks in Redis for channels_redis's 5 s: redis-py's own default
                # timeout (5 s in 8.x) cut it and closed every socket every few seconds. Longer than the
                # block, and kept alive, so a socket lives for hours; a dead Redis still times out.
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": CHANNEL_LAYER_SOCKET_TIMEOUT,
                        "socket_connect_timeout": 5,
                        "socket_keepalive": True,
                        "health_check_interval": 30,
                    }
                ],
                # A socket that died without leaving its groups drops out of them after this; live
                # sockets renew their membership well before (tradebot.consumers.LiveGroups).
                "group_expiry": WS_GROUP_EXPIRY,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# The heartbeat behind /health. `tradebot` is no installed app, so autodiscovery misses its tasks.
# An unrun heartbeat expires: a worker that was down must not replay a backlog and look healthy.
CELERY_IMPORTS = ["tradebot.tasks", "accounts.notifications.tasks"]
CELERY_BEAT_SCHEDULE = {
    "beat_heartbeat": {"task": "tradebot.tasks.beat_heartbeat", "schedule": 30.0, "options": {"expire_seconds": 30}},
    "mark_to_market": {"task": "bots.mark_to_market", "schedule": 60.0, "options": {"expire_seconds": 60}},
    "market_status": {"task": "market.market_status", "schedule": 60.0, "options": {"expire_seconds": 60}},
    "settle_pending_orders": {
        "task": "bots.settle_pending_orders",
        "schedule": 60.0,
        "options": {"expire_seconds": 60},
    },
    # Every minute, acting only once a new session has opened: idempotent, and never misses an open.
    "daily_reset": {"task": "bots.daily_reset", "schedule": 60.0, "options": {"expire_seconds": 60}},
    "prune_tick_logs": {"task": "bots.prune_tick_logs", "schedule": 600.0, "options": {"expire_seconds": 600}},
    # The books against the brokers' every few minutes (the stream also asks for it when it starts).
    "reconcile": {"task": "bots.reconcile", "schedule": 300.0, "options": {"expire_seconds": 300}},
    # Notifications whose task was lost (a worker that died) go out within a minute or two anyway.
    "notifications_flush": {
        "task": "accounts.notifications.flush",
        "schedule": 60.0,
        "options": {"expire_seconds": 60},
    },
    "sweep_stale_backtests": {"task": "backtests.sweep_stale", "schedule": 300.0, "options": {"expire_seconds": 300}},
}
# Backtests run on a queue and a worker of their own (the Procfile's and compose's `backtests`, a small
# pool in the embedded run): a long one never makes a tick wait. Everything else is on the default queue.
BACKTEST_QUEUE = "backtests"
CELERY_TASK_ROUTES = {"backtests.run_backtest": {"queue": BACKTEST_QUEUE}}
# Per person: backtests queued or running at once (more is a 429), and running at once.
TRADEBOT_BACKTESTS_PER_USER = env.int("TRADEBOT_BACKTESTS_PER_USER", default=4)
TRADEBOT_BACKTESTS_RUNNING_PER_USER = env.int("TRADEBOT_BACKTESTS_RUNNING_PER_USER", default=1)
# A running backtest that has not moved for this long lost its worker: the sweeper marks it failed.
TRADEBOT_BACKTEST_STALE_SECONDS = env.int("TRADEBOT_BACKTEST_STALE_SECONDS", default=900)
CELERY_TIMEZONE = "UTC"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    # Tests create many users: hash their passwords cheaply.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"

# Accounts (django-allauth): sign-in by username or email; a failed sign-in is rate limited by address
# and by account (allauth's login_failed: 10 a minute per address, 5 in 5 minutes per account, after
# which even the right password is refused until the window passes); the admin signs in here too.
# Django's own backend first: sessions made before allauth name it, and stay signed in.
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_LOGOUT_REDIRECT_URL = LOGIN_URL
ACCOUNT_RATE_LIMITS = {
    "login_failed": env("TRADEBOT_LOGIN_FAILED_RATE", default="10/m/ip,5/5m/key"),
}
# Sign-up: off (people are made by an operator), invite (with a link from `manage.py invite EMAIL`), open.
TRADEBOT_SIGNUP = env("TRADEBOT_SIGNUP", default="off")
if TRADEBOT_SIGNUP not in ("off", "invite", "open"):
    raise ImproperlyConfigured(f"TRADEBOT_SIGNUP must be off, invite or open, not {TRADEBOT_SIGNUP!r}")
TRADEBOT_INVITE_DAYS = env.int("TRADEBOT_INVITE_DAYS", default=7)
# Two-factor: an authenticator app (TOTP) and recovery codes; required before trading real money.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Tradebot"
# Verification and password-reset mail goes out as notifications do (EMAIL_URL, below).

LANGUAGE_CODE = "en-us"
USE_I18N = False
USE_TZ = True
TIME_ZONE = "UTC"

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

ALPACA_API_KEY = env("ALPACA_API_KEY", default="")
ALPACA_SECRET_KEY = env("ALPACA_SECRET_KEY", default="")
ALPACA_BASE_URL = env("ALPACA_BASE_URL", default="https://paper-api.alpaca.markets")
ALPACA_LIVE_BASE_URL = env("ALPACA_LIVE_BASE_URL", default="https://api.alpaca.markets")
ALPACA_DATA_URL = env("ALPACA_DATA_URL", default="https://data.alpaca.markets")
# The stream service's endpoints: the market data stream (the account's feed, iex or sip, is appended)
# and trade_updates (empty: the account's trading URL with wss:// and /stream).
ALPACA_DATA_STREAM_URL = env("ALPACA_DATA_STREAM_URL", default="wss://stream.data.alpaca.markets/v2")
ALPACA_TRADING_STREAM_URL = env("ALPACA_TRADING_STREAM_URL", default="")
ALPACA_TIMEOUT_SECONDS = env.float("ALPACA_TIMEOUT_SECONDS", default=10.0)
# Timeouts, 429 and 5xx are retried with doubling back-off from this first delay, then given up.
ALPACA_RETRY_ATTEMPTS = env.int("ALPACA_RETRY_ATTEMPTS", default=3)
ALPACA_RETRY_DELAY_SECONDS = env.float("ALPACA_RETRY_DELAY_SECONDS", default=0.5)
# A 429's Retry-After is honoured up to this many seconds (a tick must not sleep for minutes).
ALPACA_RETRY_AFTER_MAX_SECONDS = env.float("ALPACA_RETRY_AFTER_MAX_SECONDS", default=10.0)

# Comma-separated Fernet keys (or any passphrases); the first encrypts, all decrypt, for rotation.
# Its own setting, required outside DEBUG: were it SECRET_KEY, rotating the one would lose the other.
TRADEBOT_ENCRYPTION_KEY = env("TRADEBOT_ENCRYPTION_KEY", default="")
if not TRADEBOT_ENCRYPTION_KEY:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured(
            "Set TRADEBOT_ENCRYPTION_KEY: it encrypts the broker keys at rest. Broker keys saved while it was "
            "unset were encrypted with SECRET_KEY: keep reading them with "
            "TRADEBOT_ENCRYPTION_KEY=<new key>,<SECRET_KEY>."
        )
    TRADEBOT_ENCRYPTION_KEY = DEVELOPMENT_ENCRYPTION_KEY
# Hosts (or networks, 10.0.0.0/8) besides Alpaca's own that broker accounts may point at: stand-ins,
# proxies. Alpaca's hosts need https; listed ones may use http, and may resolve to internal addresses.
TRADEBOT_ALPACA_ALLOWED_HOSTS = env.list("TRADEBOT_ALPACA_ALLOWED_HOSTS", default=[])
# The simulated market is open around the clock unless this is off (then the NYSE calendar rules it).
TRADEBOT_SIM_ALWAYS_OPEN = env.bool("TRADEBOT_SIM_ALWAYS_OPEN", default=True)
# Requests per user to /api/ ("N/second|minute|hour|day"), counted in the cache (Redis when configured).
TRADEBOT_API_RATE = env("TRADEBOT_API_RATE", default="600/minute")

# Notifications (accounts.notifications): email through Django's backend, from EMAIL_URL
# (smtp://user:password@host:587/?tls=True); unset, mail is printed by the console backend.
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Tradebot <tradebot@localhost>")
TELEGRAM_API_URL = env("TELEGRAM_API_URL", default="https://api.telegram.org")
# Events for one channel within this many seconds go out as one message; a failing channel is retried
# after each of these pauses, then its deliveries are marked failed.
TRADEBOT_NOTIFY_BUNDLE_SECONDS = env.float("TRADEBOT_NOTIFY_BUNDLE_SECONDS", default=10.0)
TRADEBOT_NOTIFY_RETRY_SECONDS = env.list("TRADEBOT_NOTIFY_RETRY_SECONDS", cast=float, default=[30.0, 120.0, 600.0])
# Webhook hosts users may point at besides public https ones (a local receiver, an internal chat server).
TRADEBOT_NOTIFY_ALLOWED_HOSTS = env.list("TRADEBOT_NOTIFY_ALLOWED_HOSTS", default=[])
# "Unusual trading": more orders than this in a minute, or a realized loss beyond this in an hour (dollars).
TRADEBOT_NOTIFY_ORDERS_PER_MINUTE = env.int("TRADEBOT_NOTIFY_ORDERS_PER_MINUTE", default=20)
TRADEBOT_NOTIFY_HOURLY_LOSS = Decimal(env("TRADEBOT_NOTIFY_HOURLY_LOSS", default="1000"))

# GET /metrics asks for this as a bearer token; unset, only the loopback may scrape (README, "Metrics").
TRADEBOT_METRICS_TOKEN = env("TRADEBOT_METRICS_TOKEN", default="")

LOG_LEVEL = env("LOG_LEVEL", default="INFO").upper()
# JSON lines for log collectors when the processes run apart (REDIS_URL); readable text on the embedded run.
LOG_FORMAT = env("LOG_FORMAT", default="json" if REDIS_URL else "console")
LOGGING = logging_config(LOG_FORMAT, LOG_LEVEL)
