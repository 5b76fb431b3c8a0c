"""AI Mass settings: every value comes from the environment (see README, "Environment").

With nothing set, the app runs on the embedded defaults: SQLite under ``var/`` and a Celery
broker kept in a SQLite file (kombu's SQLAlchemy transport), so ``make run`` needs no server.
``DATABASE_URL`` and ``REDIS_URL`` switch to PostgreSQL and Redis.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("AIMASS_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()


def env_secret(name: str, default: str | None = None) -> str | None:
    """Read a secret from ``NAME`` or from the file named by ``NAME_FILE``."""
    path = env.str(f"{name}_FILE", default="")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={path!r} cannot be read: {exc}") from exc
    return env.str(name, default=default)


def local_secret_key() -> str:
    """A per-installation key kept in var/ so development sessions survive restarts."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


def proxy_ssl_header(value: str) -> tuple[str, str] | None:
    """``X-Forwarded-Proto=https`` (or ``HTTP_X_FORWARDED_PROTO=https``) as Django wants it."""
    if not value:
        return None
    name, sep, expected = value.partition("=")
    name, expected = name.strip(), expected.strip()
    if not sep or not name or not expected:
        raise ImproperlyConfigured(
            f"DJANGO_SECURE_PROXY_SSL_HEADER={value!r}: expected HEADER=VALUE, "
            "e.g. X-Forwarded-Proto=https"
        )
    meta = name.upper().replace("-", "_")
    return (meta if meta.startswith("HTTP_") else f"HTTP_{meta}", expected)


DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env_secret("DJANGO_SECRET_KEY") or local_secret_key()
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "axes",
    # Two-step sign-in for staff (clinic.mfa): TOTP authenticators and recovery codes.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "clinic",
    "imaging",
    "appointments",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Sets request.user.otp_device / is_verified() from the session.
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "clinic.middleware.SessionInactivityMiddleware",
    # After the idle logout: staff whose session has not passed the code step reach only it.
    "clinic.middleware.TwoStepSignInMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it answers a locked-out login.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "clinic.context_processors.navigation",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'aimass.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so a Celery worker process can share the test database; one per
    # test process so two test runs on one machine do not clobber each other.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-aimass-{os.getpid()}.sqlite3")}
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    # Writers take the lock when their transaction starts, so concurrent ingests queue up
    # instead of failing with "database is locked" when a read lock cannot be upgraded.
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Keep connections between requests (a new PostgreSQL connection costs milliseconds, more than
# a whole frame request); health checks drop ones the server closed.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "clinic.User"
# django-axes first: it refuses a locked-out username + address before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Brute-force protection for passwords (pages, API Basic auth, DICOMweb): after
# AXES_FAILURE_LIMIT failures for one username from one address, that pair is refused for
# AXES_COOLOFF_MINUTES, whether or not the account exists (the answer never says which).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_LOCKOUT_CALLABLE = "clinic.authentication.lockout_response"  # JSON for API clients
# The audit trail records every attempt (clinic.auth_events); axes keeps only its counters.
AXES_ENABLE_ACCESS_FAILURE_LOG = False
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Two-step sign-in (clinic.mfa) -----------------------------------------------------------
# Staff in MFA_ROLES, and every account that can open the Django admin (is_staff), enter a
# code from an authenticator app (TOTP) or a recovery code after their password; without a
# confirmed authenticator they are sent to set one up first. With MFA_REQUIRED off, only those
# who set one up themselves are asked. Patients sign in with a code sent to their phone
# (appointments) and are never asked; the API's token and Basic authentication are
# password-only (README, "Two-step sign-in").
MFA_REQUIRED = env.bool("MFA_REQUIRED", default=True)
MFA_ROLES = tuple(env.list("MFA_ROLES", default=["admin", "doctor", "nurse", "scheduler"]))
# clinic.models.Role values that can hold an authenticator (patients cannot).
_MFA_ROLE_CHOICES = {"admin", "doctor", "nurse", "scheduler", "receptionist"}
if not set(MFA_ROLES) <= _MFA_ROLE_CHOICES:
    raise ImproperlyConfigured(
        f"MFA_ROLES={','.join(MFA_ROLES)!r}: each must be one of "
        f"{', '.join(sorted(_MFA_ROLE_CHOICES))} (patients sign in with phone codes)"
    )
# The name authenticator apps show next to the account.
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="AI Mass")
# After n wrong codes in a row, the next try waits MFA_THROTTLE_FACTOR * 2**(n-1) seconds
# (django-otp's throttling): 10 wrong codes cost over 8 minutes, 15 over 4 hours.
OTP_TOTP_THROTTLE_FACTOR = env.int("MFA_THROTTLE_FACTOR", default=1)
OTP_STATIC_THROTTLE_FACTOR = OTP_TOTP_THROTTLE_FACTOR
if OTP_TOTP_THROTTLE_FACTOR < 1:
    raise ImproperlyConfigured("MFA_THROTTLE_FACTOR must be at least 1 (seconds)")
# django-otp's admin pages would show authenticator secrets; resets go through the audited
# action on the user list instead (clinic.admin).
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# --- Sessions ---------------------------------------------------------------------------------
# Inactivity timeout (seconds) enforced by clinic.middleware; the cookie's own age is the
# absolute lifetime.
SESSION_IDLE_TIMEOUT = env.int("SESSION_IDLE_TIMEOUT", default=15 * 60)
SESSION_COOKIE_AGE = env.int("SESSION_ABSOLUTE_LIFETIME", default=12 * 60 * 60)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Set behind HTTPS in production (see "HTTPS" below); off so `make run` works over plain http.
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# --- Languages --------------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Shanghai")
USE_TZ = True

# --- Files ------------------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
# WhiteNoise serves static files straight from the apps and static/ (no collectstatic needed to
# run); production may still run collectstatic into STATIC_ROOT and a CDN.
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # DICOM files: written atomically (temp file + rename), never overwritten; encrypted at
    # rest when DICOM_ENCRYPTION_KEYS is set (below).
    "dicom": {
        "BACKEND": "imaging.storage.AtomicFileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT / "dicom")},
    },
    # Model bundles (zips, named by model, version and sha256).
    "models": {
        "BACKEND": "imaging.storage.AtomicFileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT / "models")},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Celery -----------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
else:
    CELERY_BROKER_URL = f"sqla+sqlite:///{VAR_DIR / 'celery-broker.sqlite3'}"
    CELERY_RESULT_BACKEND = f"db+sqlite:///{VAR_DIR / 'celery-results.sqlite3'}"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=CELERY_BROKER_URL)
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=CELERY_RESULT_BACKEND)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES_NAMES = ("default", "gpu", "scheduling")
CELERY_TASK_ROUTES = {
    "imaging.ai.*": {"queue": "gpu"},
    "appointments.rostering.*": {"queue": "scheduling"},
}
CELERY_TASK_ACKS_LATE = True
# A task a dead worker had taken goes back to the queue after this many seconds (Redis broker);
# it must exceed the longest task, or a running task is handed out twice.
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=60 * 60)
    }
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=30 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=25 * 60)
CELERY_RESULT_EXPIRES = timedelta(days=1)
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- Cache ------------------------------------------------------------------------------------
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Several installations (or test runs) sharing one Redis keep their cache keys apart.
CACHES["default"]["KEY_PREFIX"] = env.str("CACHE_KEY_PREFIX", default="")

# --- REST API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate challenge makes unauthenticated requests 401 (not 403)
    # without making browsers pop up a Basic-auth dialog over the app's own pages.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "clinic.authentication.AuditedTokenAuthentication",
        "clinic.authentication.PasswordBasicAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Exactly JSON, form and multipart bodies; anything else (XML, YAML, pickle) answers 415
    # unsupported_media_type. STOW-RS reads its multipart/related body itself.
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "config.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "AI Mass API",
    "DESCRIPTION": (
        "REST API of AI Mass. Every error has the body "
        '`{"error": {"code": ..., "message": ..., "details": ...}}`; the codes are listed at '
        "`/api/v1/errors/`."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and its docs describe every endpoint: for signed-in users only.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # `check --deploy` is about how the site is served; the schema's documentation warnings
    # (DICOMweb views without serializers) show in `manage.py spectacular --file /dev/null`.
    "ENABLE_DJANGO_DEPLOY_CHECK": False,
}

# --- Logging ----------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Failed logins are in the audit trail; axes would log each one again.
        "axes": {"level": "ERROR"},
    },
}

# --- Security headers -------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
# HTTPS: all off by default so `make run` serves plain http; production turns them on (README,
# "Security headers"; `manage.py check --deploy` then reports nothing).
SECURE_SSL_REDIRECT = env.bool("DJANGO_SSL_REDIRECT", default=False)
# Load balancers probe over plain http inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
# Only behind a proxy that sets this header itself and strips it from clients' requests.
SECURE_PROXY_SSL_HEADER = proxy_ssl_header(env.str("DJANGO_SECURE_PROXY_SSL_HEADER", default=""))
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=False)
# Sent on every response by config.security.ContentSecurityPolicyMiddleware. Scripts come only
# from our own static files: templates hold no inline <script> code and no on*= handlers
# (tests/security/test_templates.py keeps it so, tests/e2e/test_csp.py runs the pages in
# Chromium); behaviours are data- attributes read by static/js/page.js. Styles allow
# 'unsafe-inline' because templates colour roster shifts with style="background:..." from the
# database, keep page-specific <style> blocks, and Swagger UI styles itself inline; a style
# runs no script. Images: data: for Swagger UI's icons, blob: for images a page decodes in the
# browser. The viewer's bundle, web workers and WebAssembly codecs are our own static files;
# 'wasm-unsafe-eval' lets the workers compile those codecs (JPEG, JPEG-LS, JPEG 2000), which
# script-src 'self' alone forbids: it allows WebAssembly only, never eval() of JavaScript.
CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'", "'wasm-unsafe-eval'"],
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:", "blob:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}

# --- Imaging ----------------------------------------------------------------------------------
# Seconds without a new instance after which a study counts as complete ("study stable").
STABLE_SECONDS = env.float("STABLE_SECONDS", default=10.0)
# Largest STOW-RS request body accepted, in bytes (413 above it).
DICOMWEB_MAX_UPLOAD_BYTES = env.int("DICOMWEB_MAX_UPLOAD_BYTES", default=2 * 1024**3)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=50 * 1024**2)
DICOM_AE_TITLE = env.str("DICOM_AE_TITLE", default="AIMASS")
# DICOM files encrypted at rest (imaging.encryption: AES-256-GCM in 64 KiB segments, so frames
# are still read by offset): 32-byte keys as URL-safe base64, comma-separated; the first
# encrypts, all decrypt. Rotation and encrypting an existing store: manage.py rotate_dicom_keys.
DICOM_ENCRYPTION_KEYS = [
    key.strip() for key in (env_secret("DICOM_ENCRYPTION_KEYS") or "").split(",") if key.strip()
]
if DICOM_ENCRYPTION_KEYS:
    STORAGES["dicom"]["BACKEND"] = "imaging.storage.EncryptedFileSystemStorage"

# --- Model service ----------------------------------------------------------------------------
# Where a worker unpacks model bundles (one folder per bundle sha256).
MODEL_CACHE_DIR = Path(env.str("MODEL_CACHE_DIR", default=str(VAR_DIR / "model-cache")))
# Loaded models kept in memory per worker process (least recently used dropped first).
INFERENCE_MODEL_CACHE_SIZE = env.int("INFERENCE_MODEL_CACHE_SIZE", default=2)
# "cuda", "cpu", or empty: CUDA when the worker has it, else the CPU.
INFERENCE_DEVICE = env.str("INFERENCE_DEVICE", default="")
# Slices per forward pass for 2D models (halved by itself when the GPU runs out of memory).
INFERENCE_SLICE_BATCH = env.int("INFERENCE_SLICE_BATCH", default=16)
# Hard limit of one inference job, in seconds (the soft limit, 30 s earlier, fails it cleanly).
INFERENCE_TIME_LIMIT_SECONDS = env.int("INFERENCE_TIME_LIMIT_SECONDS", default=20 * 60)
# Synthetic chest CT studies seed_demo stores and runs the demo model on (0: none, no model).
DEMO_CHEST_CT_STUDIES = env.int("DEMO_CHEST_CT_STUDIES", default=3)
# Run routed models by themselves when a study becomes stable.
INFERENCE_ON_STABLE = env.bool("INFERENCE_ON_STABLE", default=True)

# --- Clinic -----------------------------------------------------------------------------------
BREAK_GLASS_HOURS = env.int("BREAK_GLASS_HOURS", default=4)
# Patients' direct identifiers (name, phone, ID-card number, address) are encrypted at rest
# (clinic.phi): Fernet keys, comma-separated, the first encrypts and all decrypt (rotation:
# manage.py rotate_phi_keys); exact-match search goes through an HMAC blind index keyed with
# PHI_BLIND_INDEX_KEY. Unset, both derive from DJANGO_SECRET_KEY (check --deploy warns).
PHI_ENCRYPTION_KEYS = [
    key.strip() for key in (env_secret("PHI_ENCRYPTION_KEYS") or "").split(",") if key.strip()
]
PHI_BLIND_INDEX_KEY = env_secret("PHI_BLIND_INDEX_KEY") or ""
# AI analysis of a patient's images: True runs it only with a granted "ai_analysis" consent;
# False (default) runs it unless the patient declined or withdrew it (clinic.consent).
AI_REQUIRES_CONSENT = env.bool("AI_REQUIRES_CONSENT", default=False)

# --- Booking ----------------------------------------------------------------------------------
# Public address of the site, for links in e-mails and on printed QR posters.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
# Class that sends text messages: the default writes them to the log (development).
SMS_BACKEND = env.str("SMS_BACKEND", default="appointments.sms.ConsoleSmsBackend")
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="AI Mass <noreply@localhost>")
# Records how registration fees are paid (see appointments/payments.py).
PAYMENT_PROVIDER = env.str("PAYMENT_PROVIDER", default="appointments.payments.DeskPaymentProvider")
PHONE_CODE_TTL_SECONDS = env.int("PHONE_CODE_TTL_SECONDS", default=5 * 60)
PHONE_CODE_MAX_PER_HOUR = env.int("PHONE_CODE_MAX_PER_HOUR", default=5)
PHONE_CODE_MAX_PER_IP_HOUR = env.int("PHONE_CODE_MAX_PER_IP_HOUR", default=20)
PHONE_CODE_MAX_ATTEMPTS = env.int("PHONE_CODE_MAX_ATTEMPTS", default=5)
BOOKING_MAX_PER_HOUR = env.int("BOOKING_MAX_PER_HOUR", default=10)
# Per IP address: higher, since a family or a clinic's Wi-Fi shares one address.
BOOKING_MAX_PER_IP_HOUR = env.int("BOOKING_MAX_PER_IP_HOUR", default=60)
BOOKING_DAYS_AHEAD = env.int("BOOKING_DAYS_AHEAD", default=14)
# Check-in opens this many minutes before the appointment time.
CHECK_IN_OPENS_MINUTES = env.int("CHECK_IN_OPENS_MINUTES", default=120)
# Priors until a doctor has history: consultation length (minutes) and no-show share.
DEFAULT_CONSULT_MINUTES = env.float("DEFAULT_CONSULT_MINUTES", default=10.0)
DEFAULT_NO_SHOW_RATE = env.float("DEFAULT_NO_SHOW_RATE", default=0.1)
# Periodic work, run by `celery worker -B` (make run) or a separate `celery beat`.
CELERY_BEAT_SCHEDULE = {
    "booking-holds-expire": {"task": "appointments.holds_expire", "schedule": 60.0},
    "booking-no-shows-mark": {"task": "appointments.no_shows_mark", "schedule": 300.0},
    "booking-sessions-generate": {"task": "appointments.sessions_generate", "schedule": 3600.0},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Rosters ----------------------------------------------------------------------------------
# The optimiser's time per solve, the CP-SAT threads it uses and how often progress is saved
# (it solves in slices of this many seconds, each warm-started, so a cancel takes effect).
ROSTER_TIME_LIMIT_SECONDS = env.float("ROSTER_TIME_LIMIT_SECONDS", default=60.0)
ROSTER_WORKERS = env.int("ROSTER_WORKERS", default=2)
ROSTER_SLICE_SECONDS = env.float("ROSTER_SLICE_SECONDS", default=15.0)
# Soft penalties: spread of night shifts and of weekends worked between staff; the cost of
# changing a cell in a minimal-change re-solve (after a sick call or a manual edit).
ROSTER_FAIRNESS_NIGHTS_WEIGHT = env.int("ROSTER_FAIRNESS_NIGHTS_WEIGHT", default=5)
ROSTER_FAIRNESS_WEEKENDS_WEIGHT = env.int("ROSTER_FAIRNESS_WEEKENDS_WEIGHT", default=5)
ROSTER_CHANGE_WEIGHT = env.int("ROSTER_CHANGE_WEIGHT", default=20)
# Numbers offered in a clinic session created by publishing a roster.
ROSTER_CLINIC_QUOTA = env.int("ROSTER_CLINIC_QUOTA", default=12)
