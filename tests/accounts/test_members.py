from __future__ import annotations

import pytest
from django.urls import reverse

from viggle_web.accounts.models import User

pytestmark = pytest.mark.django_db


def test_admin_adds_a_member_with_a_password(admin_client, password, client):
    response = admin_client.post(
        reverse("members:add"),
        {"username": "dave", "email": "dave@example.com", "role": "member", "password": password},
    )
    assert response.status_code == 302
    dave = User.objects.get(username="dave")
    assert dave.role == "member" and dave.is_active and dave.check_password(password)


def test_admin_adds_a_member_with_a_one_time_link(admin_client, client):
    response = admin_client.post(
        reverse("members:add"),
        {"username": "erin", "email": "erin@example.com", "role": "admin", "password": ""},
    )
    assert response.status_code == 200
    erin = User.objects.get(username="erin")
    assert erin.role == "admin" and not erin.has_usable_password()
    link = response.context["set_password_link"]
    path = link.split("testserver", 1)[1]

    anonymous = client.__class__()
    # Django's reset view redirects once to a token-less URL it keeps in the session.
    page = anonymous.get(path, follow=True)
    assert page.context["validlink"] is True
    form_path = page.redirect_chain[-1][0]
    done = anonymous.post(
        form_path, {"new_password1": "a-new-pass-4711", "new_password2": "a-new-pass-4711"}
    )
    assert done.status_code == 302
    erin.refresh_from_db()
    assert erin.check_password("a-new-pass-4711")
    # One time only: the same link no longer works.
    again = client.__class__().get(path, follow=True)
    assert again.context["validlink"] is False


def test_duplicate_username_is_refused_and_changes_nothing(admin_client, member):
    before = User.objects.count()
    response = admin_client.post(
        reverse("members:add"),
        {"username": "BOB", "email": "x@example.com", "role": "member", "password": ""},
    )
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert User.objects.count() == before


def test_admin_changes_a_role(admin_client, member):
    response = admin_client.post(
        reverse("members:edit", args=[member.pk]), {"email": member.email, "role": "admin"}
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.role == "admin" and member.is_admin


def test_the_last_admin_cannot_be_demoted(admin_client, admin_user):
    response = admin_client.post(
        reverse("members:edit", args=[admin_user.pk]),
        {"email": admin_user.email, "role": "member"},
    )
    assert response.status_code == 200
    assert "at least one active admin" in response.content.decode()
    admin_user.refresh_from_db()
    assert admin_user.role == "admin"


def test_admin_deactivates_a_member_who_then_cannot_log_in(admin_client, member, password):
    response = admin_client.post(reverse("members:set_active", args=[member.pk]), {"active": "0"})
    assert response.status_code == 302
    member.refresh_from_db()
    assert not member.is_active
    assert User.objects.filter(pk=member.pk).exists()  # history stays

    from django.test import Client

    login = Client().post(reverse("login"), {"username": "bob", "password": password})
    assert login.status_code == 200  # the form again, with an error
    assert "_auth_user_id" not in login.client.session


def test_a_deactivated_members_open_session_stops_working(client, member, admin_user):
    client.force_login(member)
    assert client.get(reverse("home")).status_code == 200
    User.objects.filter(pk=member.pk).update(is_active=False)
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_admin_cannot_deactivate_themselves(admin_client, admin_user):
    admin_client.post(reverse("members:set_active", args=[admin_user.pk]), {"active": "0"})
    admin_user.refresh_from_db()
    assert admin_user.is_active


@pytest.mark.parametrize(
    ("name", "args", "method"),
    [
        ("members:list", [], "get"),
        ("members:add", [], "get"),
        ("members:add", [], "post"),
        ("members:edit", ["PK"], "get"),
        ("members:edit", ["PK"], "post"),
        ("members:set_active", ["PK"], "post"),
        ("members:password_link", ["PK"], "post"),
    ],
)
def test_a_member_cannot_open_admin_pages(member_client, other_member, name, args, method):
    url = reverse(name, args=[other_member.pk if a == "PK" else a for a in args])
    response = getattr(member_client, method)(url, {"active": "0", "role": "admin"})
    assert response.status_code == 403
    other_member.refresh_from_db()
    assert other_member.is_active and other_member.role == "member"


def test_members_page_lists_and_filters(admin_client, member, other_member):
    response = admin_client.get(reverse("members:list"), {"q": "car"})
    body = response.content.decode()
    assert "carol" in body and "bob@example.com" not in body


def test_members_page_rejects_a_bad_filter(admin_client):
    assert admin_client.get(reverse("members:list"), {"page": "-3"}).status_code == 400


def test_superuser_is_always_admin(django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.com", "x-pass-123")
    assert root.role == "admin" and root.is_admin
