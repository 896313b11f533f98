import datetime as dt

from django.utils import timezone


def local_today() -> dt.date:
    """Today's date in Allora's home time zone: the date staff act on in views."""
    return timezone.localdate()
