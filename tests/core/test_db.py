from django.db import connection
from django.test.utils import CaptureQueriesContext

from kreide.core.db import refresh_statistics


def test_statistics_are_refreshed_only_after_commit(db, django_capture_on_commit_callbacks):
    with CaptureQueriesContext(connection) as queries:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            refresh_statistics()
        assert not any(query["sql"] == "ANALYZE" for query in queries)
        assert len(callbacks) == 1
        callbacks[0]()
    assert [query["sql"] for query in queries] == ["ANALYZE"]
