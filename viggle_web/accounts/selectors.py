from __future__ import annotations

from django.db.models import Q, QuerySet

from viggle_web.accounts.models import User


def member_list(*, q: str = "", status: str = "") -> QuerySet[User]:
    members = User.objects.all().order_by("username")
    if q:
        members = members.filter(
            Q(username__icontains=q)
            | Q(email__icontains=q)
            | Q(first_name__icontains=q)
            | Q(last_name__icontains=q)
        )
    if status == "active":
        members = members.filter(is_active=True)
    elif status == "inactive":
        members = members.filter(is_active=False)
    return members
