"""Mounted under /renders/ beside the render's own pages: /renders/<id>/exports/…"""

from django.urls import path

from viggle_web.exports import views

app_name = "exports"

urlpatterns = [
    path("<pubid:public_id>/exports/", views.export_request, name="request"),
    path("<pubid:public_id>/exports/stream/", views.export_stream, name="stream"),
    path("<pubid:public_id>/exports/<slug:fmt>/", views.export_download, name="download"),
]
