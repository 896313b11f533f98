"""Objects of service delivery for tests."""

from decimal import Decimal as D

from agreements.models import Contact
from delivery import projects


def office_move(customer, *, approver, by, today, hours=D("10")):
    """A project of ``customer`` awaiting approval, its estimate sent to ``approver`` (a customer
    user, made a designated project approver)."""
    Contact.objects.filter(user=approver).update(is_project_approver=True)
    return projects.create_project(
        customer,
        title="Office move",
        scope="Move the network to the new office.",
        hours=hours,
        by=by,
        today=today,
    )
