import datetime
from decimal import Decimal

from django.db import migrations


def add_discounts(apps, schema_editor):
    # The brief's 25% agreement discount, as data that admins can change later.
    DiscountPolicy = apps.get_model("billing", "DiscountPolicy")
    for kind in ("maintenance", "prescheduled"):
        DiscountPolicy.objects.get_or_create(
            service_kind=kind,
            effective_date=datetime.date(2020, 1, 1),
            defaults={"percent": Decimal("25.00")},
        )


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunPython(add_discounts, migrations.RunPython.noop)]
