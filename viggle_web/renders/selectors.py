from __future__ import annotations

from datetime import date, datetime, time

from django.db.models import IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from viggle_web.accounts.models import User
from viggle_web.assets.models import Asset
from viggle_web.core.registries import FilterSources
from viggle_web.renders.models import RenderJob
from viggle_web.usage.models import CreditEntry


def with_credits(jobs: QuerySet[RenderJob]) -> QuerySet[RenderJob]:
    """Each job's net credits in the ledger (``credits_net``): what a complete job was charged.
    One subquery per row, no extra queries (pages, fragments and the stream use it)."""
    net = (
        CreditEntry.objects.filter(job=OuterRef("pk"))
        .order_by()
        .values("job")
        .annotate(total=Sum("credits"))
        .values("total")
    )
    return jobs.annotate(credits_net=Coalesce(Subquery(net, output_field=IntegerField()), 0))


def jobs_for_display() -> QuerySet[RenderJob]:
    """Jobs with everything a row, a job page or a stream fragment shows."""
    return with_credits(RenderJob.objects.select_related("owner", "character", "motion"))


# Groups of jobs that apps above renders offer as a filter of the renders list (batches: "the
# renders of a collection"), registered from their AppConfig.ready: renders never imports them.
_job_groups: FilterSources[RenderJob] = FilterSources()
job_group_source_register = _job_groups.register
job_group_choices = _job_groups.choices


def job_list(
    *,
    member: User | None = None,
    status: str = "",
    asset_id: int | None = None,
    group: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[RenderJob]:
    """Every job of the team, newest first (the renders page is shared, like the gallery)."""
    jobs = jobs_for_display().order_by("-created_at", "-id")
    if group:
        jobs = _job_groups.apply(group, jobs)
    if member is not None:
        jobs = jobs.filter(owner=member)
    if status == "active":
        jobs = jobs.filter(status__in=RenderJob.ACTIVE)
    elif status:
        jobs = jobs.filter(status=status)
    if asset_id:
        jobs = jobs.filter(Q(character_id=asset_id) | Q(motion_id=asset_id))
    tz = timezone.get_current_timezone()
    if date_from:
        jobs = jobs.filter(created_at__gte=datetime.combine(date_from, time.min, tzinfo=tz))
    if date_to:
        jobs = jobs.filter(created_at__lte=datetime.combine(date_to, time.max, tzinfo=tz))
    return jobs


def job_cast(job: RenderJob) -> list[dict]:
    """A template render's people and who played each (None: they kept their look)."""
    from viggle_web.assets.models import Asset

    motion = job.motion
    if motion is None or motion.kind != Asset.Kind.TEMPLATE:
        return []
    mapping = {str(k): str(v) for k, v in (job.character_mapping or {}).items()}
    chosen = Asset.objects.in_bulk([int(v) for v in mapping.values() if v.isdigit()])
    return [
        {**person, "character": chosen.get(int(mapping[person["uuid"]]))}
        if mapping.get(person["uuid"], "").isdigit()
        else {**person, "character": None}
        for person in motion.people
    ]


def job_again_query(job: RenderJob) -> str:
    """The new-render form's query that starts from this job's choices (its people's
    characters included)."""
    from django.http import QueryDict

    query = QueryDict(mutable=True)
    if job.character_id:
        query["character"] = str(job.character_id)
    if job.motion_id:
        query["motion"] = str(job.motion_id)
    query["model"] = job.model
    query["background_mode"] = job.background_mode
    for segment, asset_id in (job.character_mapping or {}).items():
        query[f"segment_{segment}"] = str(asset_id)
    return query.urlencode()


def mapping_render_ids(*, asset: Asset, limit: int | None = None) -> list[int]:
    """Ids of template renders whose character mapping gives a person ``asset`` (newest
    first). The mapping is JSON (segment -> asset id), so it is read here rather than joined;
    only template renders carry one."""
    found: list[int] = []
    wanted = str(asset.pk)
    rows = (
        RenderJob.objects.filter(motion__kind=Asset.Kind.TEMPLATE)
        .exclude(character_mapping={})
        .order_by("-created_at", "-id")
        .values_list("pk", "character_mapping")
    )
    for pk, mapping in rows.iterator(chunk_size=500):
        if isinstance(mapping, dict) and wanted in {str(v) for v in mapping.values()}:
            found.append(pk)
            if limit is not None and len(found) >= limit:
                break
    return found


def renders_using_asset(asset: Asset, limit: int = 50) -> list[RenderJob]:
    """The renders that used ``asset`` as character, motion or a template person's
    character, newest first (the gallery asks through ``assets.selectors.asset_renders``)."""
    used = Q(character=asset) | Q(motion=asset)
    if asset.kind == Asset.Kind.IMAGE:
        used |= Q(pk__in=mapping_render_ids(asset=asset, limit=limit))
    return list(
        RenderJob.objects.filter(used)
        .select_related("owner", "character", "motion")
        .order_by("-created_at", "-id")[:limit]
    )


def jobs_name_casts(jobs: list[RenderJob]) -> list[RenderJob]:
    """Give every template render in ``jobs`` the names of the characters mapped onto its people
    (``job.cast_names``), in one query for the whole list."""
    wanted: dict[int, list[int]] = {}
    for job in jobs:
        if job.character_id is None and job.character_mapping:
            values = (str(v) for v in job.character_mapping.values())
            wanted[job.pk] = [int(v) for v in values if v.isdigit()]
    names = dict(
        Asset.objects.filter(pk__in={pk for ids in wanted.values() for pk in ids}).values_list(
            "pk", "name"
        )
    )
    for job in jobs:
        job.cast_names = [names[pk] for pk in wanted.get(job.pk, []) if pk in names]
    return jobs


def job_who(job: RenderJob) -> str:
    """Who plays in a render, as people name it: its character, or a template render's cast
    ("Alice & Bob"); "Template" when every person kept their look. One query unless the list
    was given its names by ``jobs_name_casts``."""
    if job.character is not None:
        return job.character.name
    if not hasattr(job, "cast_names"):
        jobs_name_casts([job])
    return " & ".join(job.cast_names) or "Template"


def job_title(job: RenderJob) -> str:
    """ "Hero × Walk", or "Alice & Bob × Office party" for a template render."""
    return f"{job_who(job)} × {job.motion.name}"
