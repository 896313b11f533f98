"""Demo customers and contacts for `manage.py seed_demo`; the first contact of each active
customer signs in to the portal."""

from agreements.models import Contact, Customer
from allora.models import Role

from .people import ensure_user

CUSTOMERS = [
    {
        "legal_name": "Oak City Dental, PLLC",
        "address_line1": "410 Glenwood Avenue",
        "postal_code": "27603",
        "phone": "(919) 555-0142",
        "status": Customer.Status.ACTIVE,
        "contacts": [
            ("Karen Liu", "Practice Manager", "karen@oakcitydental.example", True, True, True),
            ("Dr. Sam Ortiz", "Owner", "sam@oakcitydental.example", True, False, False),
        ],
    },
    {
        "legal_name": "Triangle Legal Group, LLP",
        "address_line1": "150 Fayetteville Street, Suite 900",
        "postal_code": "27601",
        "phone": "(919) 555-0187",
        "status": Customer.Status.ACTIVE,
        "contacts": [
            ("James Porter", "Managing Partner", "james@trianglelegal.example", True, True, False),
            (
                "Alicia Grant",
                "Office Administrator",
                "alicia@trianglelegal.example",
                False,
                False,
                True,
            ),
        ],
    },
    {
        "legal_name": "Glenwood Family Practice, PA",
        "address_line1": "3320 Wake Forest Road",
        "postal_code": "27609",
        "phone": "(919) 555-0164",
        "status": Customer.Status.ACTIVE,
        "contacts": [
            ("Dr. Helen Park", "Medical Director", "helen@glenwoodfp.example", True, True, True),
        ],
    },
    {
        "legal_name": "Crabtree Valley Architects, Inc.",
        "address_line1": "4325 Glenwood Avenue",
        "postal_code": "27612",
        "phone": "(919) 555-0123",
        "status": Customer.Status.PROSPECT,
        "contacts": [
            ("Nina Patel", "Principal", "nina@crabtreearch.example", True, True, True),
        ],
    },
]


def seed(*, today):
    """Customers with contacts; the first contact of each active customer uses the portal."""
    customers = {}
    for spec in CUSTOMERS:
        spec = dict(spec)
        contacts = spec.pop("contacts")
        customer, _ = Customer.objects.get_or_create(legal_name=spec["legal_name"], defaults=spec)
        customers[customer.legal_name] = customer
        for index, (name, title, email, signer, approver, billing) in enumerate(contacts):
            contact, _ = Contact.objects.get_or_create(
                customer=customer,
                email=email,
                defaults={
                    "name": name,
                    "title": title,
                    "is_authorized_signer": signer,
                    "is_project_approver": approver,
                    "is_billing_contact": billing,
                },
            )
            if index == 0 and customer.status == Customer.Status.ACTIVE and not contact.user:
                first, _, last = name.partition(" ")
                contact.user = ensure_user(email, first, last, Role.CUSTOMER, customer)
                contact.has_portal_access = True
                contact.save(update_fields=["user", "has_portal_access"])
    return customers
