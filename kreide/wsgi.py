"""WSGI entry point: pages, uploads and the API (served by Granian's WSGI workers)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kreide.settings")
application = get_wsgi_application()
