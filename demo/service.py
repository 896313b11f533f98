"""Demo emergency requests for `manage.py seed_demo`: resolved ones (met and breached), an open
one with its clock running, and one from a customer without Emergency Support. Idempotent."""

import datetime as dt

from agreements.models import Customer
from delivery import emergencies
from delivery.models import EmergencyRequest

# (customer, days ago, minutes to acknowledge or None for open, summary)
REQUESTS = [
    ("Oak City Dental, PLLC", 20, 25, "The front desk cannot reach the practice software."),
    ("Oak City Dental, PLLC", 9, 95, "Ransomware warning on the imaging workstation."),
    ("Triangle Legal Group, LLP", 3, 40, "Email is down for the whole office."),
    ("Crabtree Valley Architects, Inc.", 6, 180, "The plotter server does not boot."),
    ("Oak City Dental, PLLC", 0, None, "The server room UPS is beeping and the server is off."),
]


def seed(*, now, technician):
    """Create the demo requests unless some exist already."""
    if EmergencyRequest.objects.exists():
        return
    customers = {c.legal_name: c for c in Customer.objects.prefetch_related("contacts__user")}
    for name, days_ago, ack_minutes, summary in REQUESTS:
        customer = customers.get(name)
        if customer is None:
            continue
        contact = customer.contacts.first()
        received = now - dt.timedelta(days=days_ago, minutes=20 if ack_minutes is None else 0)
        request = emergencies.file_request(
            customer,
            summary=summary,
            contact_name=contact.name,
            contact_phone=contact.phone or customer.phone,
            site=customer.address,
            channel="portal" if contact.user else "phone",
            received_at=received,
            by=contact.user or technician,
            now=now,
        )
        if ack_minutes is None:
            continue
        acknowledged = received + dt.timedelta(minutes=ack_minutes)
        emergencies.acknowledge(request, by=technician, now=acknowledged)
        emergencies.close(
            request,
            by=technician,
            now=acknowledged + dt.timedelta(hours=2),
            resolution="Diagnosed and fixed on site; details in the time entry.",
        )
