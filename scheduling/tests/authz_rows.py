"""Authorization matrix rows for the scheduling app's URLs (merged by
allora/tests/test_authorization.py): URL name -> (build(objs) -> kwargs or None, expected codes).

``objs`` holds: customer (A), agreement (A's active, signed agreement with its first term),
draft_agreement, alice (user of A), bob (user of B, the outsider), staff, admin. A builder may
create the objects its URL needs."""

from allora.tests.authz import PUBLIC, STAFF


def _visit(objs):
    """A's first visit: activation planned the whole term."""
    return {"pk": objs["agreement"].visits.order_by("starts_at").first().pk}


def _line(objs):
    return {"pk": objs["agreement"].versions.get(status="signed").lines.get(kind="maintenance").pk}


def _feed(objs):
    from scheduling.models import CalendarFeed

    return {"token": CalendarFeed.for_customer(objs["customer"]).token}


ROWS = {
    "scheduling:schedule_preview": (None, STAFF),
    "scheduling:calendar": (None, STAFF),
    "scheduling:visit_list": (None, STAFF),
    "scheduling:visit_detail": (_visit, STAFF),
    "scheduling:visit_move": (_visit, STAFF),
    "scheduling:visit_reassign": (_visit, STAFF),
    "scheduling:visit_cancel": (_visit, STAFF),
    "scheduling:visit_complete": (_visit, STAFF),
    "scheduling:line_list": (None, STAFF),
    "scheduling:line_assign": (_line, STAFF),
    "scheduling:line_schedule": (_line, STAFF),
    "scheduling:line_assign_preview": (_line, STAFF),
    "scheduling:line_resolve": (_line, STAFF),
    "scheduling:my_schedule": (None, STAFF),
    "scheduling:my_calendar": (None, STAFF),
    "scheduling:my_feed_regenerate": (None, STAFF),
    # The secret address is the only key: anyone holding it reads the feed (a wrong one: 404).
    "scheduling:feed": (_feed, PUBLIC),
}
