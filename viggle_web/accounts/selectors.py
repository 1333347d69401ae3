from __future__ import annotations

from collections.abc import Callable

from django.db.models import Q, QuerySet

from viggle_web.accounts.models import User

MemberAnnotation = Callable[[QuerySet[User]], QuerySet[User]]
# What apps above accounts add to the member list (usage: the month's spend against the cap).
# They register at start-up, from their AppConfig.ready: accounts never imports them.
_member_annotations: list[MemberAnnotation] = []


def member_annotation_register(annotate: MemberAnnotation) -> None:
    if annotate not in _member_annotations:
        _member_annotations.append(annotate)


def with_member_annotations(members: QuerySet[User]) -> QuerySet[User]:
    """``members`` with every registered annotation (e.g. ``month_credits``, ``monthly_cap``)."""
    for annotate in _member_annotations:
        members = annotate(members)
    return members


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
