"""Benchmark: import N existing agreements from one JSON file (manage.py import_agreements).

    .venv/bin/python bench/bench_import.py                       # 5,000 agreements, SQLite
    .venv/bin/python bench/bench_import.py --agreements 500
    .venv/bin/python bench/bench_import.py --database-url postgres://postgres@127.0.0.1:5432/allora_bench
    .venv/bin/python bench/bench_import.py --csv                 # the same records as CSV
    .venv/bin/python bench/bench_import.py --agreements 21800 --csv --write-only /tmp/big.csv

It builds its own database (a temporary SQLite file unless --database-url names an empty
database), writes a file of N customers (two contacts each) and N agreements signed on
2024-03-15 (five Exhibit B lines: maintenance, prescheduled, emergency, two hosting packages),
then times the import as of 2026-11-28 (terms 1-3 each, visits of term 3 from that day) and
its peak memory, the re-import of the same file (everything already there) and the export.
Last, its floor: every row the import wrote (customers to visits, history included) is deleted
and inserted again with a plain ``bulk_create`` per table in one transaction; the ratio of the
import's time to that insert's is the figure. A benchmark, not a test.
"""

import argparse
import datetime as dt
import json
import os
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agreements", type=int, default=5000)
    parser.add_argument("--database-url", help="an empty database to fill (default: SQLite)")
    parser.add_argument("--today", default="2026-11-28", help="import as of this date")
    parser.add_argument("--csv", action="store_true", help="import a CSV file (default: JSON)")
    parser.add_argument(
        "--write-only", metavar="FILE", help="only write the file there (for manage.py)"
    )
    args = parser.parse_args()
    today = dt.date.fromisoformat(args.today)

    workdir = Path(tempfile.mkdtemp(prefix="allora-bench-"))
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{workdir}/bench.sqlite3"
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "allora.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["MEDIA_ROOT"] = str(workdir / "media")
    sys.path.insert(0, str(ROOT))

    import django

    django.setup()

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from agreements import exporting, importing
    from agreements.models import Agreement, Term
    from agreements.tests.import_samples import sample_document
    from allora.models import Role, User
    from scheduling.models import Visit

    suffix = ".csv" if args.csv else ".json"
    source = Path(args.write_only or workdir / f"agreements{suffix}")
    write_file(source, args.agreements, sample_document)
    if args.write_only:
        print(f"{source}: {source.stat().st_size / 1_000_000:.1f} MB")
        return
    call_command("migrate", verbosity=0)
    admin = User.objects.create_user("bench-admin@allora.example", role=Role.ADMIN)
    size = source.stat().st_size / 1_000_000
    settings.IMPORT_MAX_BYTES = max(settings.IMPORT_MAX_BYTES, source.stat().st_size)

    tables: list[str] = []  # the tables the import inserts into, in the order of their first insert

    def timed(label, action):
        queries = []

        def count(execute, sql, params, many, context):
            queries.append(sql)
            if match := INSERT.match(sql):
                tables.append(match[1])
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            started = time.perf_counter()
            result = action()
            elapsed = time.perf_counter() - started
        print(f"{label}: {elapsed:.1f} s, {len(queries):,} queries")
        return result

    print(f"{connection.vendor}, {args.agreements:,} agreements, file of {size:.1f} MB")
    before = peak_mb()
    started, cpu = time.perf_counter(), time.process_time()
    report = timed("import", lambda: importing.import_path(source, by=admin, today=today))
    imported, imported_cpu = time.perf_counter() - started, time.process_time() - cpu
    written = list(dict.fromkeys(tables))
    assert report.ok, report.errors[:5]
    print(f"  peak memory {peak_mb():,.0f} MB (before the import: {before:,.0f} MB)")
    print(
        f"  created {report.customers_created:,} customers, {report.contacts_created:,} contacts, "
        f"{Agreement.objects.count():,} agreements, {Term.objects.count():,} terms, "
        f"{Visit.objects.count():,} visits"
    )
    again = timed(
        "re-import (all already there)",
        lambda: importing.import_path(source, by=admin, today=today),
    )
    assert again.ok and again.agreements_created == 0
    timed("export", lambda: exporting.export_to_path(workdir / "export.json"))
    bulk, bulk_cpu = bulk_insert_again(written, connection)
    print(f"plain bulk insert of the same rows: {bulk:.1f} s ({bulk_cpu:.1f} s CPU)")
    print(f"  ratio: {imported / bulk:.2f}× (import {imported:.1f} s)")
    # This process's CPU time: steadier than the clock on a shared machine (with SQLite it is
    # all the work; PostgreSQL's own is not counted).
    print(f"  CPU ratio: {imported_cpu / bulk_cpu:.2f}× (import {imported_cpu:.1f} s CPU)")


INSERT = re.compile(r'INSERT (?:OR IGNORE )?INTO "?(\w+)"?')


def bulk_insert_again(tables, connection):
    """Delete every row of the tables the import wrote and insert the very same rows (ids
    included) with one ``bulk_create`` per table, in the import's order, in one transaction;
    returns the seconds the insert took, by the clock and in this process's CPU."""
    from django.apps import apps
    from django.db import transaction

    models = {m._meta.db_table: m for m in apps.get_models(include_auto_created=True)}
    rows = [
        (models[table], list(models[table]._default_manager.order_by("pk"))) for table in tables
    ]
    with transaction.atomic():
        for model, _rows in reversed(rows):
            model._default_manager.all()._raw_delete(connection.alias)
    started, cpu = time.perf_counter(), time.process_time()
    with transaction.atomic():
        for model, objects in rows:
            model._default_manager.bulk_create(objects, batch_size=500)
    return time.perf_counter() - started, time.process_time() - cpu


def write_file(path, count, sample_document):
    """The file (JSON, or CSV by its suffix), record by record, so the bench's own memory stays
    small next to the import's."""
    if path.suffix == ".csv":
        return write_csv_file(path, count, sample_document)
    with path.open("w") as stream:
        stream.write('{"format": "allora-agreements", "version": 1,\n')
        for key in ("customers", "agreements"):
            stream.write(f'"{key}": [\n')
            for index in range(count):
                record = sample_document(1, prefix=f"{index}-")[key][0]
                stream.write((",\n" if index else "") + json.dumps(record, indent=1))
            stream.write("]" + (",\n" if key == "customers" else "}\n"))


def write_csv_file(path, count, sample_document):
    """The same records in the CSV format (``exporting.write_csv``, one header): all the
    customers and contacts, then each agreement with its rates, rate changes and services."""
    import io

    from agreements.exporting import write_csv

    with path.open("w", newline="") as stream:
        for key in ("customers", "agreements"):
            for index in range(count):
                record = sample_document(1, prefix=f"{index}-")[key][0]
                buffer = io.StringIO()
                write_csv({"customers": [], "agreements": [], key: [record]}, buffer)
                text = buffer.getvalue()
                first = key == "customers" and index == 0
                stream.write(text if first else text.split("\n", 1)[1])


def peak_mb():
    """The process's peak resident memory so far (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
