"""The daily rollup of the ledger (``UsageDay``): how it is added to, rebuilt and checked.

The figures are written twice, on purpose, and checked against each other: as plain SQL for the
writes (``_insert_select``: added to the rollup for the entries a transaction just inserted,
``rollup_add``, an ``INSERT … SELECT … ON CONFLICT DO UPDATE SET x = x + EXCLUDED.x``, and
inserted whole after emptying it, ``rollup_rebuild``), and as one ORM aggregation over ledger rows
(``ledger_days``) that ``rollup_subtract`` and ``rollup_differences`` read (the latter is the
check, run by the tests and ``usage_rebuild_rollup --check``). No Django compiler internals: the
day is cut by the backend's own date-in-time-zone expression (``datetime_cast_date_sql``, the one
``TruncDate`` uses, in settings.TIME_ZONE) in both.

Concurrency: the upsert takes the rollup row's lock until the transaction ends, so two
transactions adding to the same (day, member, model, mode) are serialised and both count; a new
key is created by one and added to by the other (Postgres waits on the unique index). SQLite
runs one writer at a time anyway (and has ON CONFLICT DO UPDATE since 3.24).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import connections, transaction
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from viggle_web.usage.models import CreditEntry, UsageDay

KEY = ("day", "user_id", "model", "mode")
_RELEASE = Q(kind=CreditEntry.Kind.RELEASE)
# Rollup column -> its aggregate over ledger rows (the report's metrics too: usage/selectors.py).
# Annotation names may not shadow the ledger's own fields, hence the "r_" prefix (stripped again
# for the column names).
LEDGER_SUMS: dict[str, Any] = {
    "entries": Count("id"),
    "credits": Coalesce(Sum("credits"), 0),
    "output_seconds": Coalesce(Sum("output_seconds"), 0.0),
    "renders": Count("id", filter=Q(kind=CreditEntry.Kind.SETTLE)),
    "released_jobs": Count("id", filter=_RELEASE),
    "released_credits": Coalesce(Sum("credits", filter=_RELEASE), 0),
    "characters": Count("id", filter=Q(kind=CreditEntry.Kind.CHARACTER)),
}
SUM_COLUMNS = tuple(LEDGER_SUMS)
_BATCH = 500


def ledger_days(entries: QuerySet[CreditEntry] | None = None) -> QuerySet:
    """``entries`` (default: the whole ledger) grouped like the rollup, one dict per key with the
    rollup's column names prefixed "r_" (and ``r_day``, ``user_id``, ``model``, ``mode``)."""
    entries = CreditEntry.objects.all() if entries is None else entries
    return (
        entries.order_by()
        .annotate(r_day=TruncDate("created_at", tzinfo=timezone.get_default_timezone()))
        .values("r_day", "user_id", "model", "mode")
        .annotate(**{f"r_{name}": expr for name, expr in LEDGER_SUMS.items()})
    )


def _sums_sql() -> tuple[list[str], list[Any]]:
    """LEDGER_SUMS written as SQL, in SUM_COLUMNS order: the same figures (``rollup_differences``
    compares the rollup this fills with the ORM aggregation, in tests and ``--check``)."""
    kind = CreditEntry.Kind
    count_kind = "COUNT(CASE WHEN kind = %s THEN 1 END)"
    sums: dict[str, tuple[str, list[Any]]] = {
        "entries": ("COUNT(*)", []),
        "credits": ("COALESCE(SUM(credits), 0)", []),
        "output_seconds": ("COALESCE(SUM(output_seconds), 0.0)", []),
        "renders": (count_kind, [kind.SETTLE]),
        "released_jobs": (count_kind, [kind.RELEASE]),
        "released_credits": (
            "COALESCE(SUM(CASE WHEN kind = %s THEN credits END), 0)",
            [kind.RELEASE],
        ),
        "characters": (count_kind, [kind.CHARACTER]),
    }
    assert tuple(sums) == SUM_COLUMNS
    return [sql for sql, _ in sums.values()], [p for _, params in sums.values() for p in params]


def _insert_select(ids: list[int] | None, using: str) -> tuple[str, list[Any], str]:
    """``INSERT INTO usage_usageday (…) SELECT … FROM the ledger [WHERE id IN ids] GROUP BY``
    the rollup's key, and the table's name. Plain SQL: the day is cut by the backend's own
    date-in-time-zone expression (the one ``TruncDate`` uses), so it equals ``ledger_days``."""
    connection = connections[using]
    qn = connection.ops.quote_name
    day, params = connection.ops.datetime_cast_date_sql(
        qn("created_at"), (), timezone.get_default_timezone_name()
    )
    sums, sum_params = _sums_sql()
    where, where_params = "", []
    if ids is not None:
        where = f" WHERE {qn('id')} IN ({', '.join(['%s'] * len(ids))})"
        where_params = list(ids)
    columns = ", ".join(map(qn, (*KEY, *SUM_COLUMNS)))
    table = qn(UsageDay._meta.db_table)
    ledger = qn(CreditEntry._meta.db_table)
    key = f"{day}, {qn('user_id')}, {qn('model')}, {qn('mode')}"
    sql = (
        f"INSERT INTO {table} ({columns}) SELECT {key}, {', '.join(sums)} "  # noqa: S608
        f"FROM {ledger}{where} GROUP BY 1, 2, 3, 4"
    )
    return sql, [*params, *sum_params, *where_params], table


def rollup_add(entry_ids: Iterable[int], *, using: str = "default") -> None:
    """Add the ledger entries ``entry_ids`` (just inserted by this transaction) to the rollup.
    One statement per 500 entries; call it in the inserting transaction, once per entry."""
    ids = sorted(entry_ids)
    qn = connections[using].ops.quote_name
    for n in range(0, len(ids), _BATCH):
        batch = ids[n : n + _BATCH]
        insert, params, table = _insert_select(batch, using)
        add = ", ".join(f"{qn(c)} = {table}.{qn(c)} + EXCLUDED.{qn(c)}" for c in SUM_COLUMNS)
        sql = f"{insert} ON CONFLICT ({', '.join(map(qn, KEY))}) DO UPDATE SET {add}"
        with connections[using].cursor() as cursor:
            cursor.execute(sql, params)


def rollup_subtract(entries: QuerySet[CreditEntry], *, using: str = "default") -> None:
    """Take ``entries`` (which the calling transaction is about to delete) out of the rollup,
    dropping a day's row when nothing of it is left, so the rollup still equals the ledger."""
    for row in ledger_days(entries).using(using):
        key = {"day": row["r_day"], "user_id": row["user_id"], "model": row["model"]}
        days = UsageDay.objects.using(using).filter(**key, mode=row["mode"])
        days.update(**{name: F(name) - row[f"r_{name}"] for name in SUM_COLUMNS})
        days.filter(entries__lte=0).delete()


def rollup_rebuild(*, using: str = "default") -> int:
    """Empty the rollup and fill it again from the whole ledger; returns the number of rows.
    On Postgres the ledger is locked against inserts (SHARE) while this runs, so bookings wait
    for it rather than being lost or counted twice."""
    connection = connections[using]
    insert, params, table = _insert_select(None, using)
    with transaction.atomic(using=using), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            ledger = connection.ops.quote_name(CreditEntry._meta.db_table)
            cursor.execute(f"LOCK TABLE {ledger} IN SHARE MODE")
        cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - our own table's name
        cursor.execute(insert, params)
        return cursor.rowcount


@dataclass(frozen=True)
class Difference:
    key: tuple[date, int, str, str]
    ledger: dict[str, Any] | None
    rollup: dict[str, Any] | None


def rollup_differences(*, using: str = "default") -> list[Difference]:
    """Every key where the rollup and the ledger disagree (empty when they agree). Reads the
    whole ledger: for tests and ``usage_rebuild_rollup --check``, not for pages."""
    ledger = {
        (row["r_day"], row["user_id"], row["model"], row["mode"]): {
            name: row[f"r_{name}"] for name in SUM_COLUMNS
        }
        for row in ledger_days().using(using)
    }
    rollup = {
        tuple(row[k] for k in KEY): {name: row[name] for name in SUM_COLUMNS}
        for row in UsageDay.objects.using(using).values(*KEY, *SUM_COLUMNS)
    }
    differences = []
    for key in sorted(ledger.keys() | rollup.keys(), key=repr):
        mine, theirs = ledger.get(key), rollup.get(key)
        if mine is None or theirs is None or not _same(mine, theirs):
            differences.append(Difference(key, mine, theirs))
    return differences


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(
        math.isclose(a[name], b[name], rel_tol=1e-9, abs_tol=1e-6)
        if name == "output_seconds"
        else a[name] == b[name]
        for name in SUM_COLUMNS
    )
