"""Video works when the registered media servers answer (this also renews the video
banner's cached state)."""

from kreide.core import health
from kreide.video import services


def check() -> str | None:
    services.sync_configured_servers()
    state = services.check_servers()
    return {"ok": None, "unconfigured": health.NOT_CONFIGURED}.get(state, "media servers down")
