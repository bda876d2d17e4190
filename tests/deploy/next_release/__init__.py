"""A stand-in for the next release of Kreide in tests/deploy/test_scale_out.py's rolling
upgrade: today's code plus one change that needs a schema change on a table the running
release writes to. Its migration expands (a nullable column on messenger_message); its
code reads and writes that column in every query of a message, and marks each message with
the node that stored it. Nodes run it with
DJANGO_SETTINGS_MODULE=tests.deploy.next_release.settings."""
