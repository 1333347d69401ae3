"""URL conf of the stand-alone simulator (`manage.py viggle_simulator`): only the simulator,
at the root, so its base URL is http://host:port like the real API's."""

from django.urls import include, path

urlpatterns = [path("", include("viggle_web.simulator.urls"))]
