from django.core.management.base import BaseCommand

from agreements import exporting


class Command(BaseCommand):
    help = (
        "Export every customer and live agreement in the import format: JSON to standard "
        "output, or to FILE (.json, or .csv with the PDFs in a folder beside it)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", help="a .json or .csv file (default: stdout)")

    def handle(self, *args, **options):
        if options["file"]:
            document = exporting.export_to_path(options["file"])
            self.stderr.write(
                f"Exported {len(document['customers'])} customers and "
                f"{len(document['agreements'])} agreements to {options['file']}."
            )
        else:
            self.stdout.write(exporting.dumps_json(exporting.export_document()), ending="")
