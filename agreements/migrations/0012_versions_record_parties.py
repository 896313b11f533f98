"""A sent or signed version records the parties' names and addresses (``parties``), so a later
edit of the customer changes neither its content hash nor what its document shows.

Versions sent before this change get the customer as it stood when they were hashed: of the
customer as it is now and its history records (the one in effect when the version was sent
first), the first that reproduces the version's recorded content hash; when none does (or the
hash cannot be checked), the history record in effect when it was sent, else the customer now."""

from django.db import DatabaseError, migrations, models, transaction


def _address(customer):
    # The formula of Customer.address, frozen here as it was when these versions were sent.
    lines = [customer.address_line1, customer.address_line2]
    return ", ".join(
        [line for line in lines if line]
        + [f"{customer.city}, {customer.state} {customer.postal_code}"]
    )


def _record(customer):
    return {"customer": {"legal_name": customer.legal_name, "address": _address(customer)}}


def _digest_with(version_pk, parties):
    """The content hash the version would have naming ``parties``, by today's formula (the one
    the recorded hashes were computed with); None when today's code cannot read the version."""
    from agreements.document import content_digest
    from agreements.models import AgreementVersion

    try:
        with transaction.atomic():
            version = AgreementVersion.objects.select_related("agreement", "terms_template").get(
                pk=version_pk
            )
            version.parties = parties
            return content_digest(version)
    except (DatabaseError, LookupError, AttributeError, TypeError):
        return None


def record_parties(apps, schema_editor):
    AgreementVersion = apps.get_model("agreements", "AgreementVersion")
    HistoricalCustomer = apps.get_model("agreements", "HistoricalCustomer")
    versions = (
        AgreementVersion.objects.filter(parties__isnull=True)
        .exclude(status="draft")
        .select_related("agreement__customer")
    )
    for version in versions.iterator(chunk_size=500):
        customer = version.agreement.customer
        history = HistoricalCustomer.objects.filter(id=customer.pk).exclude(history_type="-")
        # An imported version was hashed when it was created, after its (paper) sending date.
        as_of = max(filter(None, [version.sent_at, version.created_at]))
        then = history.filter(history_date__lte=as_of).order_by("-history_date").first()
        candidates = [_record(then)] if then is not None else []
        candidates.append(_record(customer))
        candidates += [_record(record) for record in history.order_by("-history_date")]
        chosen = next(
            (
                parties
                for parties in candidates
                if _digest_with(version.pk, parties) == version.content_sha256
            ),
            candidates[0],
        )
        AgreementVersion.objects.filter(pk=version.pk).update(parties=chosen)


class Migration(migrations.Migration):
    dependencies = [
        ("agreements", "0011_import_jobs"),
    ]

    operations = [
        migrations.AddField(
            model_name="agreementversion",
            name="parties",
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.RunPython(record_parties, migrations.RunPython.noop),
    ]
