"""Demo projects for `manage.py seed_demo`: one approved and under way, one awaiting approval,
one declined. Idempotent."""

import datetime as dt
from decimal import Decimal

from agreements.models import Contact, Customer
from delivery import projects
from delivery.models import Project

# (customer, title, scope, hours, decision: True approve, False decline, None pending)
PROJECTS = [
    (
        "Oak City Dental, PLLC",
        "Second operatory workstation rollout",
        "Install and configure four new operatory workstations with imaging software.",
        Decimal("12"),
        True,
    ),
    (
        "Triangle Legal Group, LLP",
        "Document management migration",
        "Move the shared drive into the new document management system, with permissions.",
        Decimal("24"),
        None,
    ),
    (
        "Glenwood Family Practice, PA",
        "Guest Wi-Fi redesign",
        "Separate the guest network from the clinical network; new access points.",
        Decimal("8"),
        False,
    ),
]


def seed(*, today, now, staff):
    """Create the demo projects unless some exist already."""
    if Project.objects.exists():
        return
    for name, title, scope, hours, decision in PROJECTS:
        customer = Customer.objects.filter(legal_name=name).first()
        approver = Contact.objects.filter(
            customer=customer, is_project_approver=True, user__isnull=False
        ).first()
        if customer is None or approver is None:
            continue
        project = projects.create_project(
            customer, title=title, scope=scope, hours=hours, by=staff, today=today
        )
        if decision is None:
            continue
        projects.decide(
            project.estimates.get(),
            user=approver.user,
            approve=decision,
            typed_name=approver.name,
            ip="203.0.113.20",
            comment="" if decision else "Not this year; please ask again in the spring.",
            now=now - dt.timedelta(days=2),
        )
        if decision:
            project.start(by=staff, now=now - dt.timedelta(days=1))
