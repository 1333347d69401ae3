from __future__ import annotations

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from viggle_web.renders.models import RenderJob

register = template.Library()


@register.simple_tag(takes_context=True)
def exports_section(context: template.Context, job: RenderJob) -> SafeString | str:
    """The job page's exports section (only transparent results have one)."""
    if job.background_mode != RenderJob.Background.TRANSPARENT:
        return ""
    from viggle_web.exports.views import SECTION, section_context

    request = context["request"]
    return render_to_string(SECTION, section_context(job, request), request=request)
