"""Kreide: a school platform that keeps working at 8:00 on the first school day."""
