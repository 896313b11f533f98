from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from agreements import importing
from allora.management.dates import today_argument, today_from
from allora.models import Role


class Command(BaseCommand):
    help = (
        "Import customers, contacts and signed agreements from a JSON or CSV file (see the "
        "README, 'REST API and import'). All or nothing; rows already imported are skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="a .json or .csv file; pdf_path is relative to it")
        parser.add_argument("--dry-run", action="store_true", help="check and report only")
        parser.add_argument("--by", help="email of the admin recorded as importer")
        today_argument(parser)

    def handle(self, *args, **options):
        users = get_user_model().objects.filter(role=Role.ADMIN, is_active=True)
        by = users.filter(email__iexact=options["by"]) if options["by"] else users.order_by("pk")
        by = by.first()
        if by is None:
            raise CommandError("No active admin to record as the importer (see --by).")
        try:
            report = importing.import_path(
                options["file"], by=by, today=today_from(options), dry_run=options["dry_run"]
            )
        except OSError as error:
            raise CommandError(f"Cannot read {options['file']}: {error}") from error
        for error in report.errors:
            where = f"line {error.line}" if error.line else "file"
            self.stderr.write(f"{where}: {error.field}: {error.reason}")
        if not report.ok:
            raise CommandError(f"{len(report.errors)} problem(s); nothing was imported.")
        verb = "Would import" if report.dry_run else "Imported"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} {report.customers_created} customers ({report.customers_existing} "
                f"existing), {report.contacts_created} contacts, {report.agreements_created} "
                f"agreements ({report.agreements_existing} already imported)."
            )
        )
