"""The simulator's routes: the documented Viggle paths, a public CDN and the test control.

Served only at the root of the simulator's own process, `manage.py viggle_simulator` (see
root_urls.py), so one base URL serves the documented paths; the app never mounts them.
"""

from django.urls import path

from viggle_web.simulator import views
from viggle_web.viggle.routes import api_routes

app_name = "simulator"

urlpatterns = [
    *api_routes(views, prefix="api/"),
    path("cdn/<path:name>", views.cdn_file, name="cdn_file"),
    path("control", views.control, name="control"),
]
