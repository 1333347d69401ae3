"""Pages for members about the API (login required): personal tokens and how to use them.
Mounted at /account/."""

from django.urls import path

from viggle_web.gateway import account_views

app_name = "tokens"

urlpatterns = [
    path("tokens/", account_views.token_list, name="list"),
    path("tokens/all/", account_views.token_admin, name="admin"),
    path("tokens/<int:token_id>/revoke/", account_views.token_revoke, name="revoke"),
    path("api/", account_views.api_help, name="api_help"),
]
