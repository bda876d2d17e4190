"""School exports (kreide/transfer/registry.py) leave incidents behind."""

from kreide.status.models import Incident
from kreide.transfer import registry

registry.not_school_data(Incident, "a school's incident notes end with the disruption")
