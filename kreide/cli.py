"""The `kreide` command: Django's management commands under one name.

`kreide import-users FILE --school SLUG` runs the management command `import_users`;
hyphens are accepted in command names because operators type them.
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kreide.settings")
    from django.core.management import execute_from_command_line

    argv = list(sys.argv)
    argv[0] = "kreide"
    if len(argv) > 1 and not argv[1].startswith("-"):
        argv[1] = argv[1].replace("-", "_")
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
