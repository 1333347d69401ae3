"""ASGI entry point: pages, fragments and the Server-Sent Events streams share one server."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "viggle_web.settings")
application = get_asgi_application()
