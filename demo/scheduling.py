"""Demo visits for `manage.py seed_demo`: holidays, technicians, and reports of past visits.

Runs after the agreements demo (whose activation planned the visits). Idempotent: a second
run finds everything in place and changes nothing."""

import datetime as dt
from decimal import Decimal as D

from agreements.models import Agreement, ServiceKind, Term
from scheduling.business_days import seed_holidays
from scheduling.models import LineAssignment, Visit
from scheduling.planning import apply_holidays, assign_line, plan_terms

# (customer, service kind) -> technician email
TECHNICIANS = {
    ("Oak City Dental, PLLC", ServiceKind.MAINTENANCE): "marcus@allora.example",
    ("Oak City Dental, PLLC", ServiceKind.PRESCHEDULED): "priya@allora.example",
    ("Triangle Legal Group, LLP", ServiceKind.MAINTENANCE): "priya@allora.example",
}
FINDINGS = [
    "All workstations patched. Backup job verified with a test restore of the shared drive. "
    "The reception PC's disk is 91% full: we cleared temporary files, consider a larger drive.",
    "Firewall firmware updated. Two laptops were missing the latest Windows update; installed. "
    "Antivirus scans clean.",
    "Replaced the UPS battery in the server closet (it failed its self-test). Backups, "
    "updates and scans all fine.",
]
PRESCHEDULED_FINDINGS = [
    "Set up the new hygienist's laptop and mailbox; moved the front desk printer to the new VLAN.",
    "Trained the office manager on the new scheduling software export.",
    "Cleaned up shared drive permissions as requested.",
]


def seed(*, today, technicians):
    """Plan the active agreements' visits, assign technicians, report on their past visits."""
    people = {user.email: user for user in technicians}
    seed_holidays(range(today.year - 1, today.year + 3))
    terms = Term.objects.filter(agreement__status__in=Agreement.LIVE).select_related(
        "agreement__customer", "version"
    )
    plan_terms(terms)
    apply_holidays(today=today)
    for term in terms:
        for line in term.version.lines.filter(kind__in=[k for _, k in TECHNICIANS]):
            email = TECHNICIANS.get((term.agreement.customer.legal_name, line.kind))
            person = people.get(email)
            if person is None or LineAssignment.objects.filter(line=line).exists():
                continue
            # From the term's start, so the past visits (and their reports) have him or her too.
            assign_line(line, technician=person, by=None, today=term.start)
            _complete_past_visits(line, today=today)


def _complete_past_visits(line, *, today):
    if Visit.objects.filter(line=line, status=Visit.Status.COMPLETED).exists():
        return
    past = [
        visit
        for visit in Visit.objects.open()
        .filter(line=line, technician__isnull=False)
        .select_related("agreement", "technician")
        .order_by("-starts_at")
        if visit.local_day < today
    ]
    findings = FINDINGS if line.kind == ServiceKind.MAINTENANCE else PRESCHEDULED_FINDINGS
    for index, visit in enumerate(past):
        # The latest report leaves one item open, as real visits sometimes do.
        done = range(len(visit.checklist) - (0 if index else 1))
        hours = D((visit.ends_at - visit.starts_at).total_seconds() / 3600).quantize(D("0.01"))
        visit.complete(
            done_items=list(done),
            findings=findings[index % len(findings)],
            hours_worked=hours - D("0.25") * (index % 2),
            by=visit.technician,
            now=visit.ends_at + dt.timedelta(minutes=30),
            today=today,
        )
