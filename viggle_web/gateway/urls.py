"""The Viggle-compatible API, mounted at /api/ so a script's BASE is the app's URL: the same
paths as https://apis.viggle.ai (viggle-api.md), plus the OpenAPI document and signed files."""

from django.urls import path

from viggle_web.gateway import registry, views

app_name = "gateway"

urlpatterns = [
    path("render", views.render_create, name="render_create"),
    path("render/<pubid:job_id>", views.render_detail, name="render_detail"),
    # Served by the exports app (it registers the view; the gateway does not import it).
    path(
        "render/<pubid:job_id>/exports",
        registry.registered_view("render_exports"),
        name="render_exports",
    ),
    path("characters", views.character_list, name="character_list"),
    path("characters/preprocess", views.character_preprocess, name="character_preprocess"),
    path("characters/<pubid:character_id>", views.character_detail, name="character_detail"),
    path("scenes", views.scene_list, name="scene_list"),
    path("scenes/preprocess", views.scene_preprocess, name="scene_preprocess"),
    path("scenes/import", views.scene_import, name="scene_import"),
    path("scenes/<pubid:scene_id>", views.scene_detail, name="scene_detail"),
    path("credits", views.credits, name="credits"),
    path("files/<str:token>", views.signed_download, name="signed_download"),
    path("openapi.json", views.openapi, name="openapi"),
]
