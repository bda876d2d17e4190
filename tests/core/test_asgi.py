"""The real-time process (kreide.asgi) starts ready for the first message: its notification
link (reverse()) must not import the URL conf or build the reverse index then, and building
them must leave no asgiref Local storage in the start-up context every connection copies."""

import os
import subprocess
import sys

from django.conf import settings

# In a fresh interpreter, as uvicorn imports the application: the tests' own process has
# long built the URL conf.
_FIRST_LINKS = """
import contextvars
import sys

from django.urls import resolvers, reverse
from django.utils import translation


def locals_in_context():
    return sum(type(v).__module__ == "asgiref.local" for v in contextvars.copy_context().values())


started = locals_in_context()
import kreide.asgi

settled = locals_in_context()

built = []
populate = resolvers.URLResolver._populate


def counting(self):
    if self.urlconf_name == "kreide.urls":
        built.append(translation.get_language())
    populate(self)


resolvers.URLResolver._populate = counting
loaded = set(sys.modules)
for code in sys.argv[1:]:
    with translation.override(code):
        reverse("messenger:room", args=[1])
print(sorted(set(sys.modules) - loaded), built, settled - started)
"""


def test_first_links_of_the_realtime_process_find_the_url_conf_built():
    languages = [code for code, _name in settings.LANGUAGES]
    assert len(languages) > 1
    done = subprocess.run(
        [sys.executable, "-c", _FIRST_LINKS, *languages],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "kreide.settings"},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    # No module imported, no reverse index built, no Local's storage left in the context.
    assert done.stdout.strip() == "[] [] 0"
