#!/usr/bin/env python
"""Django's manage.py; `kreide` (kreide/cli.py) is the same with hyphenated command names."""

from kreide.cli import main

if __name__ == "__main__":
    main()
