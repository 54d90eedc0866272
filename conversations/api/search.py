"""Search in the resident's own messages of a community."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router

from ..selectors.access import community_get_for_user
from ..selectors.search import message_search
from ..wire.resident import SearchParams
from ..wire.schema import MessageObject
from ..wire.validate import validated
from .common import ERRORS, resident

router = Router(tags=["search"])


@router.get(
    "/communities/{slug}/search/", response={200: list[MessageObject], **ERRORS}
)
def search(request: HttpRequest, slug: str, q: str) -> Any:
    """The resident's messages in the community that contain every word of
    `q` (case and accents ignored), newest first, at most 50."""
    params = validated(SearchParams, {"q": q})
    user = resident(request)
    community = community_get_for_user(user_id=user.pk, community_slug=slug)
    return message_search(user_id=user.pk, community=community, query=params["q"])
