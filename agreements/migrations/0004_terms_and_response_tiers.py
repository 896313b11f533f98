from django.db import migrations
from django.utils import timezone

TERMS = """## 1. Parties and purpose
This Customer Agreement ("Agreement") is made between Allora ("Allora") and the customer named on the cover page ("Customer"). Allora provides the information technology services described in Exhibit B at the rates stated in Exhibit A. Exhibits A and B are part of this Agreement.

## 2. Term and renewal
This Agreement takes effect on its start date and remains in effect for one (1) year. Unless the Customer submits a written request for termination at least thirty (30) days before the end of the then-current term, the Agreement renews automatically for an additional year on the same terms. Allora may review its rates before each renewal; rates for a renewal term are communicated before that term starts.

## 3. Rates
All service rates stated in Exhibit A are guaranteed for the first term and are subject to change only at the start of each renewal term. Monthly Maintenance Services and Prescheduled Services are billed at the agreement rates shown in Exhibit A, which include a discount off Allora's standard hourly rates.

## 4. Services
Monthly Maintenance Services are performed on the recurring schedule in Exhibit B and include inspections, updates, backups, scans and workplace optimization. Prescheduled Services are the hours each month stated in Exhibit B, performed at the Customer's direction on the set schedule; they are owed whether used or not. Emergency Support Services guarantee a response within the time stated in Exhibit B. Hosting Services run continuously.

## 5. Projects
Work outside the services of Exhibit B is a project. Allora provides an estimate, and a designated approver of the Customer must approve it before any work begins.

## 6. Invoices and payment
Allora invoices monthly on the billing day stated in Exhibit B: recurring charges in advance, and emergency hours and hours beyond the prescheduled block in arrears. Invoices are payable within the payment terms stated in Exhibit B.

## 7. Commitment and early termination
The Customer agrees to pay for all contracted recurring services from the start date through the end of the term. If the Agreement ends before the end of a term at the Customer's request, the remaining recurring charges of that term become due.

## 8. Termination notice
A request to terminate must be made in writing, through the customer portal or by letter. A request received after the notice deadline takes effect at the end of the following term.

## 9. Electronic signatures
The parties agree to sign this Agreement electronically. An electronic signature has the same effect as a handwritten one.

## 10. Governing law
This Agreement is governed by the laws of the State of North Carolina.
"""

TIERS = [
    ("1 hour, 24×7", 60, False),
    ("2 hours, 24×7", 120, False),
    ("4 business hours", 240, True),
    ("Next business day", 540, True),
]


def seed(apps, schema_editor):
    TermsTemplate = apps.get_model("agreements", "TermsTemplate")
    ResponseTier = apps.get_model("agreements", "ResponseTier")
    TermsTemplate.objects.get_or_create(
        version=1,
        defaults={"title": "Customer Agreement", "body": TERMS, "published_at": timezone.now()},
    )
    for name, minutes, business in TIERS:
        ResponseTier.objects.get_or_create(
            name=name, defaults={"response_minutes": minutes, "business_hours_only": business}
        )


class Migration(migrations.Migration):
    dependencies = [("agreements", "0003_agreements_versions_terms_signatures")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
