"""What a school export carries from this app (see kreide/transfer/registry.py).

News.groups (an auto-created many-to-many table) comes along with News; attachments
travel as blobs."""

from kreide.news.models import News, NewsAttachment, Receipt
from kreide.transfer import registry

registry.register(News)
registry.register(NewsAttachment)
registry.register(Receipt)
