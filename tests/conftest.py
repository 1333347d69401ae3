"""Shared fixtures: an admin, a member and an outsider (another member), as the style guide asks."""

from __future__ import annotations

import os

import pytest

# Playwright's sync API runs an event loop in the test thread; the ORM calls that tests make
# beside it are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PASSWORD = "correct-horse-battery-9"


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_user(
        username="alice", email="alice@example.com", password=PASSWORD, role="admin"
    )


@pytest.fixture
def member(django_user_model):
    return django_user_model.objects.create_user(
        username="bob", email="bob@example.com", password=PASSWORD, role="member"
    )


@pytest.fixture
def other_member(django_user_model):
    return django_user_model.objects.create_user(
        username="carol", email="carol@example.com", password=PASSWORD, role="member"
    )


@pytest.fixture
def admin_client(admin_user):
    # Its own client, so a test can hold an admin's and a member's session at once.
    from django.test import Client

    admin = Client()
    admin.force_login(admin_user)
    return admin


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


from tests.viggle_fixtures import *  # noqa: E402, F403
