from django.urls import path

from viggle_web.renders import views

app_name = "renders"

urlpatterns = [
    path("", views.job_list, name="list"),
    path("new/", views.job_new, name="new"),
    path("stream/", views.job_stream, name="stream"),
    path("<pubid:public_id>/", views.job_detail, name="detail"),
    path("<pubid:public_id>/cancel/", views.job_cancel, name="cancel"),
    path("<pubid:public_id>/rerun/", views.job_rerun, name="rerun"),
    path("<pubid:public_id>/resolve/", views.job_resolve, name="resolve"),
    path("<pubid:public_id>/delete-files/", views.job_delete_files, name="delete_files"),
    path("<pubid:public_id>/download/", views.job_download, name="download"),
]
