import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "isc_site.settings")

app = Celery("isc_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
