"""Settings of the test project; each test sets ``STORAGES`` to the store it checks."""

from __future__ import annotations

SECRET_KEY = "objstore-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
INSTALLED_APPS = ["djangoproject"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "djangoproject.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
TIME_ZONE = "UTC"
STORAGES = {
    "default": {
        "BACKEND": "objstore.django.ObjstoreStorage",
        "OPTIONS": {"target": "memory://", "expires": 300},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
