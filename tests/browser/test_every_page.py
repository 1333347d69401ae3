"""Every page a member or an admin reaches, walked in Chromium at desktop and phone width:
axe-core finds no serious or critical accessibility problem, no page scrolls sideways at 390 px
(tables turn into labelled cards), and a screenshot of each is written to var/screenshots/ (see
the README) so a reviewer can look without starting anything.

The data comes the way production makes it: renders started through the API, run by a real
worker against the simulator."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.media_factory import make_mp4, make_png
from tests.viggle_fixtures import *  # noqa: F403
from tests.workers import QCluster, wait_until
from viggle_web.accounts.services import member_create, member_set_password_path
from viggle_web.gateway.services import token_create
from viggle_web.renders.models import RenderJob

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
WIDTHS = [("desktop", 1280, 900), ("phone", 390, 844)]
MEMBER_PAGES = [
    ("home", "/"),
    ("gallery", "/gallery/"),
    ("asset", "/gallery/{image}/"),
    ("template-import", "/gallery/import/"),
    ("renders", "/renders/"),
    ("render-form", "/renders/new/"),
    ("job", "/renders/{job}/"),
    ("job-transparent", "/renders/{alpha_job}/"),
    ("usage", "/usage/"),
    ("tokens", "/account/tokens/"),
    ("api-help", "/account/api/"),
    ("notifications", "/notifications/"),
    ("webhooks", "/notifications/webhooks/"),
    ("notices", "/notifications/notices/"),
    ("not-found", "/renders/r_thisdoesnotexist00000000/"),
]
ADMIN_PAGES = [
    ("members", "/members/"),
    ("member-add", "/members/add/"),
    ("member-edit", "/members/{bob}/edit/"),
    ("audit-log", "/members/audit/"),
    ("usage-admin", "/usage/"),
    ("budgets", "/usage/budgets/"),
    ("tokens-admin", "/account/tokens/all/"),
    ("renders-admin", "/renders/"),
]
_axe = Axe()
# Controls whose accessible name has no letters (e.g. a button named only "☆"): the name from
# aria-label, aria-labelledby, a <label>, the text, an image's alt or a title, as browsers do.
UNNAMED_CONTROLS = """() => {
    const named = el => {
        const by = (el.getAttribute('aria-labelledby') || '').split(/\\s+/)
            .map(id => document.getElementById(id)).filter(Boolean)
            .map(e => e.textContent).join(' ');
        const labels = el.labels ? [...el.labels].map(l => l.textContent).join(' ') : '';
        const alts = [...el.querySelectorAll('img[alt]')].map(i => i.alt).join(' ');
        const text = [...el.childNodes].filter(n => !(n.nodeType === 1
            && n.getAttribute('aria-hidden') === 'true')).map(n => n.textContent).join('');
        return [el.getAttribute('aria-label'), by, labels, text, alts, el.title,
                el.value && el.type === 'submit' ? el.value : '']
            .filter(Boolean).join(' ');
    };
    return [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select,'
                                          + ' textarea, [role=button]')]
        .filter(el => el.getAttribute('aria-hidden') !== 'true' && el.tabIndex >= 0)
        .filter(el => !/[A-Za-z]/.test(named(el)))
        .map(el => el.outerHTML.slice(0, 120));
}"""


def render_through_api(base: str, token: str, tmp_path: Path, **data: str) -> str:
    with (
        open(make_png(tmp_path / "Hero Pose.png"), "rb") as image,
        open(make_mp4(tmp_path / "Moon Walk.mp4", seconds=1.0), "rb") as video,
    ):
        response = httpx.post(
            f"{base}/api/render",
            headers={"Authorization": f"Bearer {token}"},
            files={"ref_image": image, "driving_video": video},
            data=data,
            timeout=60,
        )
    assert response.status_code == 200, response.text
    return response.json()["job_id"]


@pytest.fixture
def studio(live_server, viggle_sim, admin_user, member, tmp_path, media_root) -> dict[str, str]:
    """A small team with two finished renders (one transparent) and a token."""
    member.first_name, member.last_name = "Bob", "Builder"
    member.save()
    member_create(
        actor=admin_user, username="dana", email="dana@example.com", role="member", password=None
    )
    token = token_create(user=member, name="laptop script").raw
    viggle_sim.set_speed(4.0)
    worker = QCluster("every-page").start()
    try:
        job = render_through_api(live_server.url, token, tmp_path)
        alpha_job = render_through_api(
            live_server.url, token, tmp_path, background_mode="transparent"
        )
        wait_until(
            lambda: RenderJob.objects.filter(status="complete").count() == 2,
            timeout=90,
            message=f"renders did not finish: {worker.stderr()}",
        )
    finally:
        worker.stop()
    image = RenderJob.objects.get(public_id=job).character_id
    return {"job": job, "alpha_job": alpha_job, "image": str(image), "bob": str(member.pk)}


def focus_problems(page: Page, where: str, steps: int = 12) -> list[str]:
    """Tab through the first controls: each one focused shows a visible outline."""
    problems = []
    page.locator("body").focus()
    for _ in range(steps):
        page.keyboard.press("Tab")
        state = page.evaluate(
            """() => {
                const el = document.activeElement;
                if (!el || el === document.body) return null;
                const style = getComputedStyle(el);
                return {
                    tag: el.outerHTML.slice(0, 80),
                    visible: (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0)
                        || style.boxShadow !== 'none',
                };
            }"""
        )
        if state is None:
            break
        if not state["visible"]:
            problems.append(f"{where}: no visible focus on {state['tag']}")
    return problems


def check_page(page: Page, base: str, role: str, name: str, path: str) -> list[str]:
    problems: list[str] = []
    for width_name, width, height in WIDTHS:
        page.set_viewport_size({"width": width, "height": height})
        response = page.goto(f"{base}{path}")
        assert response is not None
        if name != "not-found":
            assert response.status == 200, (path, response.status)
        page.wait_for_load_state("load")
        page.wait_for_timeout(150)
        scroll, viewport = page.evaluate(
            "[document.documentElement.scrollWidth, window.innerWidth]"
        )
        if scroll > viewport:
            wide = page.evaluate(
                """w => [...document.querySelectorAll('body *')]
                    .filter(e => e.getBoundingClientRect().right > w + 1)
                    .slice(0, 5).map(e => e.tagName + '.' + e.className)""",
                viewport,
            )
            problems.append(f"{role} {name} {width_name}: scrollWidth {scroll} > {viewport} {wide}")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{role}-{name}-{width_name}.png"), full_page=True)
        problems += [
            f"{role} {name} {width_name}: no accessible name in words: {unnamed}"
            for unnamed in page.evaluate(UNNAMED_CONTROLS)
        ]
        if width_name == "desktop":
            problems += focus_problems(page, f"{role} {name}")
        results = _axe.run(page)
        assert results.response["passes"], "axe did not run"
        for violation in results.response["violations"]:
            if violation["impact"] in ("serious", "critical"):
                targets = [node["target"] for node in violation["nodes"]][:3]
                problems.append(
                    f"{role} {name} {width_name}: axe {violation['id']} ({violation['impact']}):"
                    f" {violation['help']} {targets}"
                )
    return problems


def test_every_member_and_admin_page_is_accessible_fits_a_phone_and_is_screenshotted(
    page, live_server, studio, password, login, admin_user
):
    problems: list[str] = []
    login("bob", password)
    for name, path in MEMBER_PAGES:
        problems += check_page(page, live_server.url, "member", name, path.format(**studio))
    page.context.clear_cookies()
    login("alice", password)
    for name, path in ADMIN_PAGES:
        problems += check_page(page, live_server.url, "admin", name, path.format(**studio))
    assert problems == [], "\n".join(problems)
    # The phone's renders list is cards that keep their labels.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/renders/")
    label = page.evaluate(
        "getComputedStyle(document.querySelector('.job-row td[data-label=Member]'),"
        " '::before').content"
    )
    assert label == '"Member"'
    expect(page.locator("table.jobs thead")).not_to_be_in_viewport()


def test_pages_before_logging_in_are_accessible_and_fit_a_phone(
    page, live_server, admin_user, member
):
    link = member_set_password_path(user=member)
    problems: list[str] = []
    for name, path in [("login", "/login/"), ("set-password", link)]:
        problems += check_page(page, live_server.url, "anonymous", name, path)
    assert problems == [], "\n".join(problems)
