"""Documents in the import format, for the import tests and bench/bench_import.py."""

import copy
import datetime as dt

RATES = {
    "rate_card": {"version": 3, "title": "Standard rates 2024", "effective_date": "2024-01-01"},
    "discounts": {"maintenance": "25.00", "prescheduled": "25.00"},
    "rates": [
        {"kind": "onsite_hourly", "name": "On-site support", "unit": "hour", "price": "140.00"},
        {"kind": "remote_hourly", "name": "Remote support", "unit": "hour", "price": "110.00"},
        {
            "kind": "emergency_hourly",
            "name": "Emergency support",
            "unit": "hour",
            "price": "210.00",
        },
        {
            "kind": "after_hours_hourly",
            "name": "After-hours support",
            "unit": "hour",
            "price": "180.00",
        },
        {"kind": "hosting_monthly", "name": "Website hosting", "unit": "month", "price": "40.00"},
        {"kind": "hosting_monthly", "name": "Email hosting", "unit": "month", "price": "6.00"},
    ],
}

SERVICES = [
    {
        "kind": "maintenance",
        "labor_rate": "onsite_hourly",
        "hours_per_visit": "2.00",
        "rrule": "FREQ=MONTHLY;BYDAY=+3WE",
        "start_time": "10:00",
        "duration_minutes": 120,
        "checklist": ["Inspections", "Updates", "Backups", "Scans"],
    },
    {
        "kind": "prescheduled",
        "labor_rate": "remote_hourly",
        "hours_per_month": "8.00",
        "rrule": "FREQ=WEEKLY;BYDAY=TU",
        "start_time": "09:00",
        "duration_minutes": 120,
    },
    {"kind": "emergency", "response_tier": "1 hour, 24×7"},
    {"kind": "hosting", "package_name": "Website hosting", "quantity": 1},
    {"kind": "hosting", "package_name": "Email hosting", "quantity": 12, "notes": "12 mailboxes"},
]

PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>"
    b"endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def uplifted(rates, factor):
    """The sample rates with every price multiplied (for a rate change)."""
    out = copy.deepcopy(rates)
    for rate in out["rates"]:
        rate["price"] = f"{float(rate['price']) * factor:.2f}"
    return out


def sample_document(count=1, *, signed_on=dt.date(2024, 3, 15), prefix="", services=SERVICES):
    """``count`` customers, each with two contacts and one signed agreement."""
    customers, agreements = [], []
    for index in range(count):
        ref = f"{prefix}{index + 1:05d}"
        customers.append(
            {
                "external_ref": f"C-{ref}",
                "legal_name": f"{prefix}Sample Customer {index + 1}, LLC",
                "address_line1": f"{100 + index} Glenwood Avenue",
                "postal_code": "27603",
                "phone": "(919) 555-0100",
                "contacts": [
                    {
                        "name": "Pat Owner",
                        "title": "Owner",
                        "email": f"pat@customer{ref}.example",
                        "is_authorized_signer": True,
                    },
                    {
                        "name": "Sam Books",
                        "email": f"books@customer{ref}.example",
                        "is_billing_contact": True,
                    },
                ],
            }
        )
        agreements.append(
            {
                "external_ref": f"A-{ref}",
                "customer_ref": f"C-{ref}",
                "signed_on": signed_on.isoformat(),
                "signer_email": f"pat@customer{ref}.example",
                "billing_day": 1,
                "payment_terms_days": 30,
                "rates": copy.deepcopy(RATES),
                "services": copy.deepcopy(services),
            }
        )
    return {
        "format": "allora-agreements",
        "version": 1,
        "customers": customers,
        "agreements": agreements,
    }
