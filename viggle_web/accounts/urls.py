from django.urls import path

from viggle_web.accounts import views

app_name = "members"

urlpatterns = [
    path("", views.member_list, name="list"),
    path("add/", views.member_add, name="add"),
    path("audit/", views.audit_log, name="audit"),
    path("<int:member_id>/edit/", views.member_edit, name="edit"),
    path("<int:member_id>/active/", views.member_set_active, name="set_active"),
    path("<int:member_id>/password-link/", views.member_password_link, name="password_link"),
    path(
        "set-password/<uidb64>/<token>/",
        views.SetPasswordView.as_view(),
        name="set_password",
    ),
]
