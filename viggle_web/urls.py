"""Every URL of the app, in one place: one list per app, mounted under its prefix and namespace
(`reverse("renders:detail", ...)`). The Viggle simulator is never mounted here: it runs as its
own process on its own port with its own URL conf (`simulator/root_urls.py`, started by
`manage.py viggle_simulator`: bin/run and the tests' viggle_sim fixture)."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from viggle_web.accounts import views as accounts
from viggle_web.accounts.forms import LoginForm
from viggle_web.assets import views as assets
from viggle_web.batches import api as batch_api
from viggle_web.batches import views as batches
from viggle_web.core import views as core
from viggle_web.exports import views as exports
from viggle_web.gateway import account_views, registry
from viggle_web.gateway import views as gateway
from viggle_web.notify import views as notify
from viggle_web.renders import views as renders
from viggle_web.usage import views as usage
from viggle_web.viggle.routes import api_routes

# /members/: member admin pages and the one-time set-password link.
members_routes = [
    path("", accounts.member_list, name="list"),
    path("add/", accounts.member_add, name="add"),
    path("audit/", accounts.audit_log, name="audit"),
    path("<int:member_id>/edit/", accounts.member_edit, name="edit"),
    path("<int:member_id>/active/", accounts.member_set_active, name="set_active"),
    path("<int:member_id>/password-link/", accounts.member_password_link, name="password_link"),
    path(
        "set-password/<uidb64>/<token>/",
        accounts.SetPasswordView.as_view(),
        name="set_password",
    ),
]

# /gallery/: the shared gallery.
gallery_routes = [
    path("", assets.index, name="index"),
    path("upload/", assets.upload, name="upload"),
    path("uploads/", assets.resumable_start, name="resumable_start"),
    path("uploads/<uuid:upload_id>/", assets.resumable_upload, name="resumable"),
    path("import/", assets.template_import, name="import"),
    path("<int:pk>/", assets.detail, name="detail"),
    path("<int:pk>/card/", assets.card, name="card"),
    path("<int:pk>/rename/", assets.rename, name="rename"),
    path("<int:pk>/tags/", assets.tags, name="tags"),
    path("<int:pk>/favourite/", assets.favourite, name="favourite"),
    path("<int:pk>/delete/", assets.delete, name="delete"),
    path("<int:pk>/preprocess/", assets.preprocess, name="preprocess"),
    path("<int:pk>/file/", assets.media_file, name="file"),
    path("<int:pk>/preview/", assets.media_preview, name="preview"),
]

# /renders/: render jobs.
renders_routes = [
    path("", renders.job_list, name="list"),
    path("new/", renders.job_new, name="new"),
    path("stream/", renders.job_stream, name="stream"),
    path("<pubid:public_id>/", renders.job_detail, name="detail"),
    path("<pubid:public_id>/cancel/", renders.job_cancel, name="cancel"),
    path("<pubid:public_id>/rerun/", renders.job_rerun, name="rerun"),
    path("<pubid:public_id>/resolve/", renders.job_resolve, name="resolve"),
    path("<pubid:public_id>/delete-files/", renders.job_delete_files, name="delete_files"),
    path("<pubid:public_id>/download/", renders.job_download, name="download"),
]

# /renders/<id>/exports/…: a render's alpha exports, beside the render's own pages.
exports_routes = [
    path("<pubid:public_id>/exports/", exports.export_request, name="request"),
    path("<pubid:public_id>/exports/stream/", exports.export_stream, name="stream"),
    path("<pubid:public_id>/exports/<slug:fmt>/", exports.export_download, name="download"),
]

# /batches/: batch renders, results, collections and shared links.
batches_routes = [
    path("", batches.batch_list, name="list"),
    path("new/", batches.batch_new, name="new"),
    path("results/<int:pk>/approve/", batches.result_approve, name="result_approve"),
    path("results/<int:pk>/share/", batches.share_create, name="share_create"),
    path("shares/", batches.share_list, name="shares"),
    path("collections/", batches.collection_list, name="collections"),
    path("collections/<int:pk>/", batches.collection_detail, name="collection"),
    path(
        "collections/<int:pk>/remove/<int:asset_pk>/",
        batches.collection_remove,
        name="collection_remove",
    ),
    path("collections/<int:pk>/delete/", batches.collection_delete, name="collection_delete"),
    path("collections/<int:pk>/share/", batches.collection_share, name="collection_share"),
    path("shares/<int:pk>/revoke/", batches.share_revoke, name="share_revoke"),
    # Public: the signed link is the credential (login_not_required on the views).
    path("shared/<str:token>/", batches.shared_page, name="shared"),
    path("shared/<str:token>/video/", batches.shared_video, name="shared_video"),
    path("shared/<str:token>/video/<int:item>/", batches.shared_video, name="shared_item"),
    path("<pubid:public_id>/", batches.batch_detail, name="detail"),
    path("<pubid:public_id>/stream/", batches.batch_stream, name="stream"),
    path("<pubid:public_id>/cancel/", batches.batch_cancel, name="cancel"),
    path("<pubid:public_id>/retry/", batches.batch_retry, name="retry"),
    path("<pubid:public_id>/download.zip", batches.batch_zip, name="zip"),
]

# /usage/: reports, CSV and budgets.
usage_routes = [
    path("", usage.report, name="report"),
    path("usage.csv", usage.report_csv, name="csv"),
    path("budgets/", usage.budgets, name="budgets"),
    path("budgets/organisation/", usage.org_budget_set, name="org_budget_set"),
    path("budgets/<int:member_id>/", usage.budget_set, name="budget_set"),
]

# /api/: the Viggle-compatible API, so a script's BASE is the app's URL: the same paths as
# https://apis.viggle.ai (viggle-api.md), plus the OpenAPI document and signed files.
gateway_routes = [
    *api_routes(gateway, id_converter="pubid"),
    # Served by the exports app (it registers the view; the gateway does not import it).
    path(
        "render/<pubid:job_id>/exports",
        registry.registered_view("render_exports"),
        name="render_exports",
    ),
    path("files/<str:token>", gateway.signed_download, name="signed_download"),
    path("openapi.json", gateway.openapi, name="openapi"),
]

# /account/: a member's pages about the API (personal tokens and how to use them).
tokens_routes = [
    path("tokens/", account_views.token_list, name="list"),
    path("tokens/all/", account_views.token_admin, name="admin"),
    path("tokens/<int:token_id>/revoke/", account_views.token_revoke, name="revoke"),
    path("api/", account_views.api_help, name="api_help"),
]

# /notifications/: notification and webhook settings.
notify_routes = [
    path("", notify.preferences, name="settings"),
    path("notices/", notify.notices, name="notices"),
    path("webhooks/", notify.webhooks, name="webhooks"),
    path("webhooks/script-secret/", notify.script_rotate, name="script_rotate"),
    path("webhooks/<int:endpoint_id>/", notify.endpoint_detail, name="endpoint"),
    path("webhooks/<int:endpoint_id>/rotate/", notify.endpoint_rotate, name="endpoint_rotate"),
    path("webhooks/<int:endpoint_id>/enable/", notify.endpoint_enable, name="endpoint_enable"),
    path("webhooks/<int:endpoint_id>/delete/", notify.endpoint_delete, name="endpoint_delete"),
    path("webhooks/<int:endpoint_id>/test/", notify.endpoint_test, name="endpoint_test"),
    path("deliveries/<int:delivery_id>/redeliver/", notify.redeliver, name="redeliver"),
]

urlpatterns = [
    path("", core.home, name="home"),
    path("healthz", core.healthz, name="healthz"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            redirect_authenticated_user=True, authentication_form=LoginForm
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("members/", include((members_routes, "members"))),
    path("gallery/", include((gallery_routes, "gallery"))),
    path("renders/", include((renders_routes, "renders"))),
    path("renders/", include((exports_routes, "exports"))),
    path("batches/", include((batches_routes, "batches"))),
    path("usage/", include((usage_routes, "usage"))),
    # The batch API sits above the gateway (it uses the gateway's endpoint decorator).
    path("api/batches", batch_api.batch_create, name="api_batches"),
    path("api/", include((gateway_routes, "gateway"))),
    path("account/", include((tokens_routes, "tokens"))),
    path("notifications/", include((notify_routes, "notify"))),
]

handler403 = "viggle_web.core.views.error_403"
handler404 = "viggle_web.core.views.error_404"
handler500 = "viggle_web.core.views.error_500"
