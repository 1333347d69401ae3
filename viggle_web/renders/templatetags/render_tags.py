from __future__ import annotations

from django import template

from viggle_web.renders import presenters, selectors
from viggle_web.renders.models import RenderJob

register = template.Library()


@register.simple_tag
def job_timeline(job: RenderJob) -> list[presenters.Stage]:
    return presenters.job_timeline(job)


@register.simple_tag
def job_time_left(job: RenderJob) -> str:
    return presenters.time_left_text(presenters.time_left_seconds(job))


@register.filter
def who(job: RenderJob) -> str:
    """{{ job|who }}: the render's character, or a template render's cast."""
    return selectors.job_who(job)
