"""The simulator's routes: the documented Viggle paths, a public CDN and the test control.

Served only at the root of the simulator's own process, `manage.py viggle_simulator` (see
root_urls.py), so one base URL serves the documented paths; the app never mounts them.
"""

from django.urls import path

from viggle_web.simulator import views

app_name = "simulator"

urlpatterns = [
    path("api/render", views.render_create, name="render_create"),
    path("api/render/<str:job_id>", views.render_detail, name="render_detail"),
    path("api/characters", views.character_list, name="character_list"),
    path("api/characters/preprocess", views.character_preprocess, name="character_preprocess"),
    path("api/characters/<str:character_id>", views.character_detail, name="character_detail"),
    path("api/scenes", views.scene_list, name="scene_list"),
    path("api/scenes/preprocess", views.scene_preprocess, name="scene_preprocess"),
    path("api/scenes/import", views.scene_import, name="scene_import"),
    path("api/scenes/<str:scene_id>", views.scene_detail, name="scene_detail"),
    path("api/credits", views.credits, name="credits"),
    path("cdn/<path:name>", views.cdn_file, name="cdn_file"),
    path("control", views.control, name="control"),
]
