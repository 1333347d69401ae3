from django.urls import path

from viggle_web.batches import views

app_name = "batches"

urlpatterns = [
    path("", views.batch_list, name="list"),
    path("new/", views.batch_new, name="new"),
    path("results/<int:pk>/approve/", views.result_approve, name="result_approve"),
    path("results/<int:pk>/share/", views.share_create, name="share_create"),
    path("shares/", views.share_list, name="shares"),
    path("collections/", views.collection_list, name="collections"),
    path("collections/<int:pk>/", views.collection_detail, name="collection"),
    path(
        "collections/<int:pk>/remove/<int:asset_pk>/",
        views.collection_remove,
        name="collection_remove",
    ),
    path("collections/<int:pk>/delete/", views.collection_delete, name="collection_delete"),
    path("collections/<int:pk>/share/", views.collection_share, name="collection_share"),
    path("shares/<int:pk>/revoke/", views.share_revoke, name="share_revoke"),
    # Public: the signed link is the credential (login_not_required on the views).
    path("shared/<str:token>/", views.shared_page, name="shared"),
    path("shared/<str:token>/video/", views.shared_video, name="shared_video"),
    path("shared/<str:token>/video/<int:item>/", views.shared_video, name="shared_item"),
    path("<pubid:public_id>/", views.batch_detail, name="detail"),
    path("<pubid:public_id>/stream/", views.batch_stream, name="stream"),
    path("<pubid:public_id>/cancel/", views.batch_cancel, name="cancel"),
    path("<pubid:public_id>/retry/", views.batch_retry, name="retry"),
    path("<pubid:public_id>/download.zip", views.batch_zip, name="zip"),
]
