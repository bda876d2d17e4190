"""Template helpers of the task pages."""

from decimal import Decimal
from functools import partial

from django import template
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from kreide.core.kept import KeptMarkup, shown_in
from kreide.tasks.forms import TextForm

register = template.Library()

_BADGES = {
    "open": ("badge", _("open")),
    "draft": ("badge warn", _("not handed in yet")),
    "submitted": ("badge ok", _("submitted")),
    "returned": ("badge warn", _("returned for revision")),
    "reviewed": ("badge ok", _("reviewed")),
}
_OVERDUE = ("badge bad", _("overdue"))


# The badges as rendered, per state and language (a handful).
_rendered_badges: dict[tuple[str, str | None], SafeString] = {}


@register.simple_tag
def state_badge(state: str) -> SafeString:
    """The badge of a student's task state; a tag rather than an include, since the task
    list shows one per row. Rendered once per process for each state and language."""
    key = (state, get_language())
    badge = _rendered_badges.get(key)
    if badge is None:
        css, label = _BADGES.get(state, _OVERDUE)
        badge = _rendered_badges[key] = format_html('<span class="{}">{}</span>', css, label)
    return badge


@register.filter
def points(value: Decimal | None) -> str:
    """8 rather than "8,00", 7,5 rather than "7,50": as many decimals as the teacher gave."""
    if value is None:
        return ""
    return number_format(value.normalize(), use_l10n=True)


# The task page's own part (title, due date, description, worksheets, the upload field and
# the text form) is the same for every student of a class who may still submit, or may
# not: at 8:00 a class opens the same task. It is rendered once per process for what it
# shows, keyed by those values themselves (no version to miss a change), with stand-ins for
# each student's own: the CSRF token, the draft's text and their submission's part. The
# submission's part of a student without one shows only the task and its state: kept too.
_KEPT = KeptMarkup(("csrf_token", "text", "my_submission"), limit=512)


def _student_task_key(context: template.Context) -> tuple:
    task = context["task"]
    return (
        *shown_in(),
        bool(context["refusal"]),
        # Without a submission, its part is kept with the state it shows.
        context["state"] if context["submission"] is None else None,
        task.pk,
        task.title,
        task.due_at,
        task.accept_late,
        task.expects,
        task.max_file_mb,
        task.description_html,
        tuple((a.pk, a.filename, a.blob.size) for a in context["attachments"]),
    )


@register.simple_tag(takes_context=True)
def student_task(context: template.Context) -> SafeString:
    """A student's task page below the header: the task's part kept (see `_KEPT`), their
    submission's part rendered for them."""
    page = context.template.engine.get_template("tasks/_student_task.html")
    submission = context["submission"]
    text = submission.text if submission else ""
    csrf = context.get("csrf_token")
    if not csrf or csrf == "NOTPROVIDED":  # rare (no CSRF context): not kept
        with context.push(text_form=TextForm(initial={"text": text})):
            context["my_submission"] = _my_submission(context)
            return mark_safe(page.render(context))  # noqa: S308 - a rendered template
    return _KEPT.get(
        _student_task_key(context),
        partial(_render, context, page),
        csrf_token=str(csrf),
        text=text,
        my_submission="" if submission is None else _my_submission(context),
    )


def _my_submission(context: template.Context) -> SafeString:
    part = context.template.engine.get_template("tasks/_my_submission.html")
    return mark_safe(part.render(context))  # noqa: S308 - a rendered template


def _render(context: template.Context, page: template.Template, stand_ins: dict[str, str]) -> str:
    """The part to keep: the student's own as `stand_ins`; without a submission, their
    submission's part as it is (it shows only the task and its state)."""
    with context.push(**stand_ins):
        if context["submission"] is None:
            context["text"], context["my_submission"] = "", _my_submission(context)
        context["text_form"] = TextForm(initial={"text": context["text"]})
        return page.render(context)


# The task list's rows, the same for a whole class but their state: each kept per process
# for what it shows (`tasks/_task_row.html`, which ends without a newline).
_ROWS = KeptMarkup((), limit=4096)


@register.simple_tag(takes_context=True)
def student_task_row(context: template.Context) -> SafeString:
    """The row of `task` (the loop's) in a student's task list, kept (see `_ROWS`)."""
    task = context["task"]
    # What the rows show besides their own values: asked once for the list, not per row.
    shown = context.render_context.get(_ROWS)
    if shown is None:
        shown = context.render_context[_ROWS] = shown_in()
    key = (
        *shown,
        task.pk,
        task.title,
        task.due_at,
        task.state,
        bool(task.mine and task.mine.late),
    )
    row = context.template.engine.get_template("tasks/_task_row.html")
    return _ROWS.get(key, lambda _stand_ins: row.render(context))
