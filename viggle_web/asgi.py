"""ASGI entry point: pages, fragments and the Server-Sent Events streams share one server.

The body limit wraps the whole app: Django reads a request's body in full before any view or
middleware of its own runs, so oversized bodies are refused here (viggle_web/bodylimit.py).
Upload views marked ``streams_body`` get their body as it arrives instead
(viggle_web/streambody.py).
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "viggle_web.settings")
django.setup(set_prefix=False)

from viggle_web.bodylimit import BodyLimitMiddleware  # noqa: E402 - needs settings loaded
from viggle_web.streambody import StreamingBodyASGIHandler  # noqa: E402

django_application = StreamingBodyASGIHandler()

try:
    from viggle_web.server import uvicorn_tune
except ImportError:  # served by something other than uvicorn
    pass
else:
    uvicorn_tune()

application = BodyLimitMiddleware(django_application)
