# The benchmarks run under pytest with the test suite's fixtures (a test database, the
# demo-like world, a live server, Janus and Chromium inside the network namespace).
from tests.conftest import *  # noqa: F403
from tests.video.conftest import *  # noqa: F403
