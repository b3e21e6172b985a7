"""The final report of a traject as a page and as an A4 PDF, both from one Jinja template.

The PDF is rendered by WeasyPrint from the page's own content (templates/report/_report.html) with
print styles. It loads nothing from outside: styles are inline, and the URL fetcher accepts only
`data:` URLs (where still frames can go once the media issue provides them).
"""

from __future__ import annotations

from io import BytesIO

from flask import Blueprint, Response, current_app, render_template, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from lti_tool.cycles.access import roles_in
from lti_tool.cycles.models import Traject
from lti_tool.cycles.report import FinalReport, ReportNotReady, report_for
from lti_tool.cycles.services import next_step
from lti_tool.web.auth import Viewer, require_viewer

bp = Blueprint("report", __name__, template_folder="templates")

# The report's headings, in the order the report shows them (DOMAIN.md's structure). The tests
# look for each of them in the page and in the PDF's text.
HEADINGS = {
    "traject": _l("Traject data"),
    "question": _l("Help question and development question"),
    "cycles": _l("The video cycles"),
    "focus": _l("Focus"),
    "strengths": _l("Moments of strength"),
    "opportunities": _l("Opportunities"),
    "action_points": _l("Action points"),
    "goal": _l("Goal reached"),
    "how": _l("How it came about"),
    "visible": _l("Where it is visible"),
    "yields": _l("Yield per domain"),
    "teacher_evaluation": _l("The teacher's own evaluation"),
    "coach_reflection": _l("The coach's reflection"),
    "follow_up": _l("Follow-up"),
}


@bp.get("/trajects/<int:traject_id>/report")
def page(traject_id: int) -> str | tuple[str, int]:
    viewer = require_viewer()
    try:
        report = report_for(viewer.user_id, traject_id)
    except ReportNotReady as exc:
        return not_ready(viewer, exc.traject)
    return render_template(
        "report/page.html",
        report=report,
        headings=HEADINGS,
        viewer=viewer,
        traject_url=traject_url(traject_id),
    )


@bp.get("/trajects/<int:traject_id>/report.pdf")
def pdf(traject_id: int) -> Response | tuple[str, int]:
    viewer = require_viewer()
    try:
        report = report_for(viewer.user_id, traject_id)
    except ReportNotReady as exc:
        return not_ready(viewer, exc.traject)
    response = send_file(
        BytesIO(render_pdf(report)),
        mimetype="application/pdf",
        as_attachment=True,
        # Outside the f-string: the catalogue extractor does not look inside f-strings.
        download_name=_("final-report") + f"-{report.traject_id}.pdf",
    )
    # Personal data: no copies in shared caches or the browser's cache.
    response.headers["Cache-Control"] = "no-store"
    return response


def render_pdf(report: FinalReport) -> bytes:
    return html_to_pdf(render_template("report/print.html", report=report, headings=HEADINGS))


def html_to_pdf(html: str) -> bytes:
    """A PDF (A4 per the document's @page rule) from a self-contained HTML document.

    Reusable for other exports (the POP contribution). Nothing is fetched: no base URL, and only
    `data:` URLs are accepted, so a document can never make the server read a file or call out.
    """
    # Imported here: WeasyPrint takes a moment to load, and only PDF requests need it.
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    fetcher = URLFetcher(allowed_protocols=("data",), allow_redirects=False)
    pdf = HTML(string=html, base_url=None, url_fetcher=fetcher).write_pdf()
    assert isinstance(pdf, bytes)
    return pdf


def not_ready(viewer: Viewer, traject: Traject) -> tuple[str, int]:
    """A clear page while the final conversation is not concluded (409: not in this state yet)."""
    _code, step = next_step(traject, roles_in(traject.id, viewer.user_id))
    return render_template(
        "report/not_ready.html",
        traject=traject,
        viewer=viewer,
        next_step=step,
        traject_url=traject_url(traject.id),
    ), 409


def traject_url(traject_id: int) -> str | None:
    """The traject's own page, where the pages module that has it is installed."""
    if "trajects.show" not in current_app.view_functions:
        return None
    return url_for("trajects.show", traject_id=traject_id)
