"""ASGI entry point: pages, fragments and the Server-Sent Events streams share one server.

The body limit wraps the whole app: Django reads a request's body in full before any view or
middleware of its own runs, so oversized bodies are refused here (viggle_web/bodylimit.py).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "viggle_web.settings")
django_application = get_asgi_application()

from viggle_web.bodylimit import BodyLimitMiddleware  # noqa: E402 - needs settings loaded

application = BodyLimitMiddleware(django_application)
