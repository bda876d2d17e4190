"""What a school export carries from this app (see kreide/transfer/registry.py).

Blobs are not registered: each one travels with the school rows that point at it.
"""

from kreide.storage.models import Upload
from kreide.transfer import registry

registry.not_school_data(
    Upload, "an upload in progress is resumed against its server; finished ones are blobs"
)
