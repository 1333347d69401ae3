from django.urls import path

from viggle_web.assets import views

app_name = "gallery"

urlpatterns = [
    path("", views.index, name="index"),
    path("upload/", views.upload, name="upload"),
    path("uploads/", views.resumable_start, name="resumable_start"),
    path("uploads/<uuid:upload_id>/", views.resumable_upload, name="resumable"),
    path("import/", views.template_import, name="import"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/card/", views.card, name="card"),
    path("<int:pk>/rename/", views.rename, name="rename"),
    path("<int:pk>/tags/", views.tags, name="tags"),
    path("<int:pk>/favourite/", views.favourite, name="favourite"),
    path("<int:pk>/delete/", views.delete, name="delete"),
    path("<int:pk>/preprocess/", views.preprocess, name="preprocess"),
    path("<int:pk>/file/", views.media_file, name="file"),
    path("<int:pk>/preview/", views.media_preview, name="preview"),
]
