"""English dates in one unambiguous form for every reader: "6 December 2026", "6 Dec 2026,
14:30", a 24-hour clock (Django's defaults mix "Dec. 6, 2026" with "12/06/2026 2:30 p.m.")."""

DATE_FORMAT = "j F Y"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "j F Y, H:i"
YEAR_MONTH_FORMAT = "F Y"
MONTH_DAY_FORMAT = "j F"
SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
FIRST_DAY_OF_WEEK = 1  # Monday, as the school week
