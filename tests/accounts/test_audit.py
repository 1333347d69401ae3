"""Security-relevant actions land in the audit log, which only admins can read."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.renders.factories import asset_row
from viggle_web.core.models import AuditEvent

pytestmark = pytest.mark.django_db


def _actions() -> list[str]:
    return list(AuditEvent.objects.order_by("id").values_list("action", flat=True))


def test_member_admin_actions_are_recorded(admin_client, admin_user, member):
    admin_client.post(
        reverse("members:add"),
        {"username": "dave", "email": "d@example.com", "role": "member", "password": ""},
    )
    admin_client.post(
        reverse("members:edit", args=[member.pk]), {"email": "b@x.io", "role": "admin"}
    )
    admin_client.post(reverse("members:set_active", args=[member.pk]), {"active": "0"})
    admin_client.post(reverse("members:password_link", args=[member.pk]))
    admin_client.post(reverse("usage:budget_set", args=[member.pk]), {"monthly_cap": "40"})
    admin_client.post(reverse("usage:org_budget_set"), {"monthly_cap": "900"})
    assert _actions() == [
        "member_added",
        "role_changed",
        "member_deactivated",
        "password_link",
        "budget_changed",
        "budget_changed",
    ]
    role = AuditEvent.objects.get(action="role_changed")
    assert role.actor == admin_user
    assert role.details == {"from": "member", "to": "admin", "address": "127.0.0.1"}


def test_token_and_asset_deletes_are_recorded(member_client, member):
    from viggle_web.gateway.services import token_create, token_revoke

    created = token_create(user=member, name="laptop")
    token_revoke(token=created.token, actor=member)
    token_revoke(token=created.token, actor=member)  # twice: recorded once
    asset = asset_row(owner=member, kind="image", name="Old hero")
    member_client.post(reverse("gallery:delete", args=[asset.pk]))
    assert _actions() == ["token_created", "token_revoked", "asset_deleted"]
    assert created.raw not in str(list(AuditEvent.objects.values()))


def test_only_admins_read_the_audit_log(admin_client, member_client, member):
    AuditEvent.objects.create(actor=None, action="member_added", target="someone")
    page = admin_client.get(reverse("members:audit"))
    assert page.status_code == 200 and "someone" in page.content.decode()
    assert admin_client.get(reverse("members:audit"), {"action": "nope"}).status_code == 400
    assert member_client.get(reverse("members:audit")).status_code == 403
