"""The one lease: who works on a row (a render job, a gallery preprocessing) until when.

A row that takes part has ``lease_owner`` (text) and ``lease_until`` (timestamp, NULL when
free); rows that wait for a poll also have ``next_poll_at``. A worker takes rows with ONE
conditional UPDATE: it sets owner and expiry only on rows whose lease is free or has run out
(and that are due, for ``lease_claim_due``), so of two workers asking at once exactly one gets
each row; on Postgres the candidate rows are picked ``FOR UPDATE SKIP LOCKED``, so two claimers
take disjoint batches instead of queueing on each other. A worker that dies simply lets its
leases run out and the next claim takes the rows over. Healthchecks' ``sendalerts`` claims its
checks the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime


def lease_free(now: datetime) -> Q:
    """Rows nobody holds, or whose holder's lease has run out."""
    return Q(lease_until__isnull=True) | Q(lease_until__lt=now)


def _claim(
    queryset: models.QuerySet,
    *,
    owner: str,
    lease: timedelta,
    limit: int | None,
    returning: Sequence[str],
    now: datetime,
) -> list[tuple]:
    model = queryset.model
    meta = model._meta
    candidates = queryset.filter(lease_free(now)).values("pk")
    if "next_poll_at" in {f.name for f in meta.concrete_fields} and limit is not None:
        candidates = candidates.order_by("next_poll_at")
    if limit is not None:
        candidates = candidates[:limit]
    if connection.features.has_select_for_update_skip_locked:
        candidates = candidates.select_for_update(skip_locked=True, of=("self",))
    quote = connection.ops.quote_name
    columns = [quote(meta.pk.column)] + [quote(meta.get_field(n).column) for n in returning]
    with transaction.atomic(using=queryset.db):
        sub_sql, sub_params = candidates.query.sql_with_params()
        # Names are the model's own, quoted; every value is a parameter.
        sql = (
            f"UPDATE {quote(meta.db_table)} SET {quote('lease_owner')} = %s, "  # noqa: S608
            f"{quote('lease_until')} = %s WHERE {quote(meta.pk.column)} IN ({sub_sql}) "
            f"AND ({quote('lease_until')} IS NULL OR {quote('lease_until')} < %s) "
            f"RETURNING {', '.join(columns)}"
        )
        params = [
            owner,
            connection.ops.adapt_datetimefield_value(now + lease),
            *sub_params,
            connection.ops.adapt_datetimefield_value(now),
        ]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
    converters = [meta.pk] + [meta.get_field(n) for n in returning]
    return [
        tuple(_convert(field, value) for field, value in zip(converters, row, strict=True))
        for row in rows
    ]


def _convert(field: models.Field, value: object) -> object:
    """A raw column value as the ORM would give it (SQLite hands back text for datetimes)."""
    if isinstance(field, models.DateTimeField) and isinstance(value, str):
        value = parse_datetime(value)
        if value is not None and timezone.is_naive(value):
            value = timezone.make_aware(value, UTC)
    return value


def lease_claim_due(
    queryset: models.QuerySet,
    *,
    owner: str,
    lease: timedelta,
    limit: int,
    returning: Sequence[str] = (),
    now: datetime | None = None,
) -> list[tuple]:
    """Lease up to ``limit`` rows of ``queryset`` that are due (``next_poll_at`` passed) and free,
    earliest first. Returns ``(pk, *returning)`` of each row this call took."""
    now = now or timezone.now()
    return _claim(
        queryset.filter(next_poll_at__lte=now),
        owner=owner,
        lease=lease,
        limit=limit,
        returning=returning,
        now=now,
    )


def lease_claim(queryset: models.QuerySet, *, owner: str, lease: timedelta) -> bool:
    """Lease the one row of ``queryset`` (filtered by pk) if it is free, due or not. Exactly one
    caller wins."""
    return bool(
        _claim(queryset, owner=owner, lease=lease, limit=None, returning=(), now=timezone.now())
    )


def lease_renew(queryset: models.QuerySet, *, owner: str, lease: timedelta) -> set:
    """Extend ``owner``'s leases on the rows of ``queryset`` (one UPDATE). Returns the pks still
    held: a row missing was let go (its holder released it, or another worker took it over after
    the lease ran out) or no longer matches ``queryset``."""
    model = queryset.model
    meta = model._meta
    quote = connection.ops.quote_name
    held = queryset.filter(lease_owner=owner).values("pk")
    with transaction.atomic(using=queryset.db):
        sub_sql, sub_params = held.query.sql_with_params()
        sql = (
            f"UPDATE {quote(meta.db_table)} SET {quote('lease_until')} = %s "  # noqa: S608
            f"WHERE {quote(meta.pk.column)} IN ({sub_sql}) RETURNING {quote(meta.pk.column)}"
        )
        until = connection.ops.adapt_datetimefield_value(timezone.now() + lease)
        with connection.cursor() as cursor:
            cursor.execute(sql, [until, *sub_params])
            return {row[0] for row in cursor.fetchall()}


def lease_release(queryset: models.QuerySet, *, owner: str) -> int:
    """Give back ``owner``'s leases on the rows of ``queryset``."""
    return queryset.filter(lease_owner=owner).update(lease_owner="", lease_until=None)
