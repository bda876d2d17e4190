"""Dashboard section: what others shared with me lately (one query, whatever the count)."""

from __future__ import annotations

from django.http import HttpRequest

from kreide.dashboard.registry import Probe
from kreide.files.services import CANDIDATE_SECONDS, candidate_fragments, own_candidates_query
from kreide.files.services import shared_with_me as latest_shares
from kreide.schools import access


def shared_entries(request: HttpRequest) -> dict[str, list[str]]:
    """The cached share ids shared_with_me() reads."""
    if not request.user.school_id:
        return {}
    return candidate_fragments(request.user, access.request_group_ids(request))


def shared_probes(request: HttpRequest) -> dict[str, Probe]:
    """Shares with a student themself (hardly ever any) are asked for first."""
    if not (request.user.is_student and request.user.school_id):
        return {}
    name, query, args = own_candidates_query(request.user)
    return {name: Probe(query, args, CANDIDATE_SECONDS)}


def shared_with_me(request: HttpRequest) -> dict | None:
    if not request.user.school_id:
        return None
    groups = access.request_group_ids(request)  # loaded once for all dashboard sections
    return {"shares": latest_shares(request.user, limit=5, group_ids=groups)}


def shared_kept(context: dict) -> tuple:
    """Everything the section shows (files/shared_list.html): for most students nothing."""
    return tuple(
        (
            entry.node.pk,
            entry.node.is_folder,
            entry.node.name or str(entry.node.space),
            str(entry.created_by),
            entry.created_at,
            entry.can_write,
        )
        for entry in context["shares"]
    )
