from django.contrib.auth import views as auth_views
from django.urls import include, path

from viggle_web.accounts.forms import LoginForm
from viggle_web.batches import api as batch_api
from viggle_web.core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            redirect_authenticated_user=True, authentication_form=LoginForm
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("members/", include("viggle_web.accounts.urls")),
    path("gallery/", include("viggle_web.assets.urls")),
    path("renders/", include("viggle_web.renders.urls")),
    path("renders/", include("viggle_web.exports.urls")),
    path("batches/", include("viggle_web.batches.urls")),
    path("usage/", include("viggle_web.usage.urls")),
    # The batch API sits above the gateway (it uses the gateway's endpoint decorator).
    path("api/batches", batch_api.batch_create, name="api_batches"),
    path("api/", include("viggle_web.gateway.urls")),
    path("account/", include("viggle_web.gateway.account_urls")),
    path("notifications/", include("viggle_web.notify.urls")),
]

# The Viggle simulator is never mounted here: it runs as its own process on its own port
# (`manage.py viggle_simulator`, started by bin/run and by the tests' viggle_sim fixture).

handler403 = "viggle_web.core.views.error_403"
handler404 = "viggle_web.core.views.error_404"
handler500 = "viggle_web.core.views.error_500"
