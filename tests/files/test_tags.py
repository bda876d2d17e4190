"""The files pages' template helpers against the template code they replace."""

import pytest
from django.template import engines
from django.utils import translation

from kreide.files.templatetags import files_tags

BLOCKTRANSLATE = (
    "{% load i18n %}{% blocktranslate with used=used|filesizeformat "
    "quota=quota|filesizeformat %}{{ used }} of {{ quota }} used{% endblocktranslate %}"
)


@pytest.mark.parametrize("language", ["de", "en"])
@pytest.mark.parametrize(
    ("used", "quota"), [(0, 100 * 2**20), (6, 3 * 2**20), (123_456_789, 2**30), (2**40, 2**41)]
)
def test_space_usage_shows_what_the_blocktranslate_showed(language, used, quota):
    django = engines["django"]
    blocktranslate = django.from_string(BLOCKTRANSLATE)
    tag = django.from_string("{% load files_tags %}{% space_usage used quota %}")
    files_tags._usage.clear()
    with translation.override(language):
        expected = blocktranslate.render({"used": used, "quota": quota})
        assert tag.render({"used": used, "quota": quota}) == expected
        assert tag.render({"used": used, "quota": quota}) == expected  # kept
    assert ("von" in expected) == (language == "de")
