"""Kreide's settings with the next release's change installed."""

from kreide.settings import *  # noqa: F403
from kreide.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.deploy.next_release.apps.NextReleaseConfig"]
