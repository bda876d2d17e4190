from datetime import timedelta

import pytest
from django.utils import timezone

from kreide.news import services
from kreide.news.models import News


@pytest.fixture(autouse=True)
def _store(settings, tmp_path):
    settings.STORAGE_DIR = tmp_path / "blobs"


@pytest.fixture
def post():
    """Post news as `author` (services.post), e.g. post(world.admin, "Hitzefrei")."""

    def run(author, title: str, audience: str = News.Audience.SCHOOL, groups=(), **fields):
        return services.post(
            author, services.Draft(title=title, audience=audience, groups=list(groups), **fields)
        )

    return run


@pytest.fixture
def letter(family, post):
    """A parent letter of 7a's teacher asking 7a's parents for consent."""
    return post(
        family.teacher_7a,
        "Wandertag",
        News.Audience.PARENTS,
        [family.class_7a],
        body="Wir wandern zum Wildpark.",
        needs_confirmation=True,
        reply_choices="Ja\nNein",
    )


def later(hours: int = 2):
    return timezone.now() + timedelta(hours=hours)
