"""Notification and webhook settings (login required). Mounted at /notifications/."""

from django.urls import path

from viggle_web.notify import views

app_name = "notify"

urlpatterns = [
    path("", views.preferences, name="settings"),
    path("notices/", views.notices, name="notices"),
    path("webhooks/", views.webhooks, name="webhooks"),
    path("webhooks/script-secret/", views.script_rotate, name="script_rotate"),
    path("webhooks/<int:endpoint_id>/", views.endpoint_detail, name="endpoint"),
    path("webhooks/<int:endpoint_id>/rotate/", views.endpoint_rotate, name="endpoint_rotate"),
    path("webhooks/<int:endpoint_id>/enable/", views.endpoint_enable, name="endpoint_enable"),
    path("webhooks/<int:endpoint_id>/delete/", views.endpoint_delete, name="endpoint_delete"),
    path("webhooks/<int:endpoint_id>/test/", views.endpoint_test, name="endpoint_test"),
    path("deliveries/<int:delivery_id>/redeliver/", views.redeliver, name="redeliver"),
]
