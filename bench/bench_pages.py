"""Benchmark: the key pages and jobs at 10,000 agreements, each against its floor (issue 14).

    make bench                                                   # the same, as one command
    .venv/bin/python bench/bench_pages.py                        # 10,000 agreements
    .venv/bin/python bench/bench_pages.py --agreements 1000 --browse-rounds 3
    .venv/bin/python bench/bench_pages.py --reuse --no-jobs      # keep the data, pages only

1. Build (skipped with --reuse when the database already holds the data; otherwise the database
   is dropped and made again): N customers and agreements imported with
   `agreements.importing.import_path` from bench_import.py's records (two contacts, five Exhibit B
   lines, three terms, the visits of the current term from today, ~18 per agreement). The terms
   end 60 to 150 days from today, so about a third of the agreements are in the renewal window;
   the previous system billed through last month, and `billing.invoicing.issue_invoices` issues
   this month's invoices (emails left out). Visits are spread over six technicians. A staff user,
   an admin and a customer user sign in with the password below; API tokens are made per run.
2. Serve with gunicorn (one sync worker, DEBUG off, production settings from the environment,
   static files collected for whitenoise) on a free port of 127.0.0.1.
3. Pages: each page is timed alternately with the sign-in page (GET, no session) on the same
   server: a warm-up of both, then --pairs interleaved pairs; the figure is page time / sign-in
   time, median and min-max. The queries of each page (and the most rows one query returned)
   are counted in this process with Django's test client on the same database.
4. Memory: the worker's VmRSS and VmHWM (/proc) when idle, after the page rounds and after
   --browse-rounds rounds of every page (other agreements, months and list pages each round):
   an "hour of browsing".
5. Jobs: bench_invoicing.py and bench_renewal.py (when present) in databases of their own
   (<database>_invoicing, <database>_renewal, made empty), their ratio to a bulk insert of the
   same rows picked from their output.

Prints Markdown tables to paste in bench/README.md. A benchmark, not a test.
"""

import argparse
import datetime as dt
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/allora_bench_pages"
PASSWORD = "bench-pages-password"  # noqa: S105 - the bench's own users, documented
STAFF, ADMIN, PORTAL = (f"bench-{who}@allora.example" for who in ("staff", "admin", "portal"))
TECHNICIANS = 6
FLOOR = "/accounts/login/"
API_LISTS = [
    "customers",
    "contacts",
    "agreements",
    "termination-requests",
    "rate-reviews",
    "visits",
    "rate-cards",
    "invoices",
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agreements", type=int, default=10_000)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE, help="PostgreSQL, made here")
    parser.add_argument("--reuse", action="store_true", help="keep the data if it is there")
    parser.add_argument("--pairs", type=int, default=5, help="interleaved pairs per page")
    parser.add_argument("--browse-rounds", type=int, default=10, help="rounds of every page")
    parser.add_argument("--no-jobs", action="store_true", help="skip the job benches")
    parser.add_argument("--no-queries", action="store_true", help="skip counting queries")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="allora-bench-pages-"))
    os.environ.update(server_environment(args.database_url, workdir))
    sys.path.insert(0, str(ROOT))
    ensure_database(args.database_url, fresh=False)

    import django

    django.setup()

    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    today = timezone.localdate()
    if not (args.reuse and holds_data(args.agreements)):
        connection.close()
        ensure_database(args.database_url, fresh=True)
        call_command("migrate", verbosity=0)
        build(args.agreements, today=today, workdir=workdir)
    else:
        call_command("migrate", verbosity=0)
        print(f"Reusing the {args.agreements:,} agreements of {connection.settings_dict['NAME']}")
    call_command("collectstatic", interactive=False, verbosity=0)
    fixture = prepare(today)
    # The planner's statistics, as autovacuum keeps them in production: without them, a freshly
    # built database is planned as if its tables were empty (a nested loop over 17 million rows).
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    connection.close()

    pages = key_pages(fixture, today=today)
    if not args.no_queries:
        count_queries(pages, fixture)
    with Server(workdir) as server:
        sessions = {who: server.sign_in(email) for who, email in fixture.emails.items()}
        sessions["api"] = {"Authorization": f"Bearer {fixture.token}"}
        memory = [("idle (after signing in)", server.memory())]
        skip_missing_views(server, pages, sessions)
        for page in pages:
            measure(server, page, sessions, pairs=args.pairs)
            print(f"  {page.name}: {page.summary()}", flush=True)
        memory.append(("after the page rounds", server.memory()))
        if args.browse_rounds:
            memory.append(browse(server, pages, sessions, fixture, rounds=args.browse_rounds))
    jobs = [] if args.no_jobs else run_jobs(args)
    report(args, pages, memory, jobs, today)


# The environment of the server (and of this process, for the build and the query counts) ----


def server_environment(database_url, workdir):
    """Production settings (DEBUG off, whitenoise's manifest), except what a bench over plain
    HTTP on 127.0.0.1 needs: no HTTPS redirect or secure cookies, and no second factor."""
    return {
        "DJANGO_SETTINGS_MODULE": "allora.settings",
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "SECRET_KEY": "bench-pages-not-a-secret-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SITE_URL": "http://127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "SECURE_HSTS_SECONDS": "0",
        "OTP_REQUIRED_FOR_STAFF": "false",
        "OTP_NOT_REQUIRED_ACKNOWLEDGED": "true",
        "EMAIL_URL": "dummymail://",
        "LOG_LEVEL": "WARNING",
        "STATIC_ROOT": str(workdir / "static"),
        "MEDIA_ROOT": str(workdir / "media"),
    }


def ensure_database(url, *, fresh):
    """Make the database if it is missing (dropped first when ``fresh``)."""
    import psycopg
    from psycopg import sql

    parts = urllib.parse.urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        if fresh:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def holds_data(count):
    from django.db import DatabaseError

    from agreements.models import Agreement
    from billing.models import Invoice

    try:
        return Agreement.objects.count() == count and Invoice.objects.exists()
    except DatabaseError:
        return False  # not migrated yet


# Build --------------------------------------------------------------------------------------


def build(count, *, today, workdir):
    """The agreements through the real import, this month's invoices through the real job."""
    from bench_import import write_file
    from dateutil.relativedelta import relativedelta
    from django.conf import settings
    from django.db.models import Count
    from django.db.models.functions import Mod

    from agreements.importing import import_path
    from agreements.models import Agreement, Term
    from agreements.tests.import_samples import sample_document
    from allora.models import Role, User
    from billing import invoicing
    from billing.models import Invoice, InvoiceLine
    from scheduling.models import Visit

    billed_through = today.replace(day=1) - dt.timedelta(days=1)

    def record(number, *, prefix):
        """bench_import's record, signed so that its third term ends 60 to 150 days from now."""
        index = int(prefix.rstrip("-"))
        ends = today + dt.timedelta(days=60 + index % 91)
        document = sample_document(number, prefix=prefix, signed_on=ends - relativedelta(years=3))
        for agreement in document["agreements"]:
            agreement["billed_through"] = billed_through.isoformat()
        return document

    admin = User.objects.create_user(ADMIN, PASSWORD, role=Role.ADMIN, first_name="Bench")
    source = workdir / "agreements.json"
    write_file(source, count, record)
    settings.IMPORT_MAX_BYTES = max(settings.IMPORT_MAX_BYTES, source.stat().st_size)
    started = time.perf_counter()
    result = import_path(source, by=admin, today=today)
    assert result.ok, result.errors[:5]
    print(f"Imported {count:,} agreements in {time.perf_counter() - started:.0f} s")
    source.unlink()

    technicians = [
        User.objects.create_user(
            f"bench-tech-{n}@allora.example", role=Role.STAFF, first_name=f"Tech {n}"
        )
        for n in range(TECHNICIANS)
    ]
    for n, technician in enumerate(technicians):
        mine = Agreement.objects.annotate(slot=Mod("pk", TECHNICIANS)).filter(slot=n)
        Visit.objects.filter(agreement__in=mine.values("pk")).update(technician=technician)

    started = time.perf_counter()
    with mock.patch.object(invoicing, "queue_invoice_email"):
        issued = invoicing.issue_invoices(today=today)
    print(f"Issued {len(issued):,} invoices in {time.perf_counter() - started:.0f} s")
    visits = Visit.objects.aggregate(n=Count("pk"), technicians=Count("technician", distinct=True))
    print(
        f"  {Agreement.objects.count():,} agreements, {Term.objects.count():,} terms, "
        f"{visits['n']:,} visits ({visits['technicians']} technicians), "
        f"{Invoice.objects.count():,} invoices, {InvoiceLine.objects.count():,} invoice lines"
    )


@dataclass
class Fixture:
    emails: dict
    token: str
    agreement_ids: list
    technician_id: int
    december: dt.date
    users: dict = field(default_factory=dict)


def prepare(today):
    """The three people who sign in (passwords set again, so a reused database works), a fresh
    API token and the objects the pages show."""
    from agreements.models import Agreement
    from allora.models import ApiToken, Role, User

    admin = User.objects.get(email=ADMIN)
    staff, _ = User.objects.get_or_create(email=STAFF, defaults={"role": Role.STAFF})
    agreement = Agreement.objects.select_related("customer").earliest("pk")
    portal, _ = User.objects.get_or_create(
        email=PORTAL, defaults={"role": Role.CUSTOMER, "customer": agreement.customer}
    )
    for user in (admin, staff, portal):
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])
    _, token = ApiToken.issue(staff, name="bench_pages.py")
    ids = list(Agreement.objects.order_by("pk").values_list("pk", flat=True))
    technician = User.objects.filter(email__startswith="bench-tech-").earliest("pk")
    return Fixture(
        emails={"staff": STAFF, "admin": ADMIN, "portal": PORTAL},
        token=token,
        agreement_ids=ids,
        technician_id=technician.pk,
        december=dt.date(today.year, 12, 1),
        users={"staff": staff, "admin": admin, "portal": portal},
    )


# Pages ----------------------------------------------------------------------------------------


@dataclass
class Page:
    name: str
    url: str
    who: str  # staff, admin, portal or api
    ratios: list = field(default_factory=list)
    times: list = field(default_factory=list)
    status: int = 0
    size: int = 0
    queries: int | None = None
    most_rows: int | None = None
    note: str = ""

    def summary(self):
        if self.note:
            return self.note
        ratio = statistics.median(self.ratios)
        return (
            f"{ratio:.1f}× ({min(self.ratios):.1f}–{max(self.ratios):.1f}), "
            f"{statistics.median(self.times) * 1000:,.0f} ms, {self.size:,} bytes, "
            f"status {self.status}"
        )


def key_pages(fixture, *, today):
    agreement = fixture.agreement_ids[len(fixture.agreement_ids) // 2]
    december = f"{fixture.december:%Y-%m}"
    pages = [
        Page("staff home (dashboard)", "/staff/", "staff"),
        Page("customer list", "/customers/", "staff"),
        Page("agreement list", "/agreements/", "staff"),
        Page("agreement detail", f"/agreements/{agreement}/", "staff"),
        Page(f"calendar, this month ({today:%B})", "/schedule/", "staff"),
        Page(f"calendar, {fixture.december:%B %Y}", f"/schedule/?month={december}", "staff"),
        Page("calendar, week", "/schedule/?view=week", "staff"),
        Page(
            f"calendar, one technician, {fixture.december:%B}",
            f"/schedule/?month={december}&technician={fixture.technician_id}",
            "staff",
        ),
        Page("visit list", "/schedule/visits/", "staff"),
        Page("invoice list", "/invoices/", "staff"),
        Page("renewals (admin)", "/renewals/", "admin"),
        Page("portal home", "/portal/", "portal"),
        Page("portal agreements", "/portal/agreements/", "portal"),
        Page("portal invoices", "/portal/invoices/", "portal"),
    ]
    pages += [Page(f"API {name}", f"/api/v1/{name}", "api") for name in API_LISTS]
    return pages


def browsing_round(pages, fixture, number):
    """Every page again, on other objects: the next agreement, month and list page."""
    ids = fixture.agreement_ids
    month = (fixture.december.month + number) % 12 + 1
    year = fixture.december.year + (fixture.december.month + number) // 12
    for page in pages:
        if page.note:
            continue
        url = page.url
        if "/agreements/" in url and url.rstrip("/").split("/")[-1].isdigit():
            url = f"/agreements/{ids[(number * 7919) % len(ids)]}/"
        elif "month=" in url:
            url = re.sub(r"month=[0-9-]+", f"month={year}-{month:02d}", url)
        elif url.rstrip("/").endswith(("/agreements", "/invoices", "/visits", "/customers")):
            url += ("&" if "?" in url else "?") + f"page={number % 5 + 1}"
        yield Page(page.name, url, page.who)


def browse(server, pages, sessions, fixture, *, rounds):
    """``rounds`` rounds of every page on other objects; the worker's memory after them."""
    started = time.perf_counter()
    for number in range(rounds):
        for page in browsing_round(pages, fixture, number):
            server.get(page.url, sessions[page.who])
    took = time.perf_counter() - started
    rounds_of = f"{rounds} more round{'s' if rounds > 1 else ''}"
    return f"after {rounds_of} of every page ({took:.0f} s)", server.memory()


def skip_missing_views(server, pages, sessions):
    """A calendar view the code does not have yet answers with the month: say so, time nothing."""
    month = normalized(server.get("/schedule/", sessions["staff"])[2])
    for page in pages:
        if "view=" in page.url:
            body = server.get(page.url, sessions[page.who])[2]
            if normalized(body) == month:
                page.note = "skipped: the calendar has no such view yet (it shows the month)"


def normalized(body):
    """A page without its per-request tokens (CSRF), to compare two responses."""
    return re.sub(rb"[A-Za-z0-9]{64}", b"", body)


def measure(server, page, sessions, *, pairs):
    """A warm-up of both, then ``pairs`` interleaved pairs (sign-in page, page)."""
    server.get(FLOOR, {})
    page.status, _, body = server.get(page.url, sessions[page.who])
    page.size = len(body)
    for _ in range(pairs):
        floor = server.get(FLOOR, {})[1]
        status, took, _ = server.get(page.url, sessions[page.who])
        page.status = max(page.status, status)
        page.times.append(took)
        page.ratios.append(took / floor)


def count_queries(pages, fixture):
    """Each page once in this process (Django's test client on the same database): its
    queries and the most rows one of them returned."""
    from django.db import connection
    from django.test import Client

    print("Counting queries (each page once, in this process)…", flush=True)
    for page in pages:
        client = Client(HTTP_HOST="127.0.0.1")
        headers = {}
        if page.who == "api":
            headers["authorization"] = f"Bearer {fixture.token}"
        else:
            client.force_login(fixture.users[page.who])
        rows: list[int] = []

        def note_rows(execute, sql, params, many, context, rows=rows):
            result = execute(sql, params, many, context)
            if sql.lstrip().upper().startswith("SELECT"):
                rows.append(max(context["cursor"].rowcount, 0))
            else:
                rows.append(0)
            return result

        with connection.execute_wrapper(note_rows):
            client.get(page.url, headers=headers)
        page.queries, page.most_rows = len(rows), max(rows, default=0)
    connection.close()


# The server -----------------------------------------------------------------------------------


class Server:
    """gunicorn with one sync worker on a free port; requests with urllib, no redirects
    followed (a page that answers with a redirect shows as such)."""

    def __init__(self, workdir):
        self.log = workdir / "gunicorn.log"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.opener = urllib.request.build_opener(NoRedirect)

    def __enter__(self):
        command = [
            *(sys.executable, "-m", "gunicorn", "allora.wsgi:application"),
            *("--workers", "1", "--bind", f"127.0.0.1:{self.port}", "--timeout", "900"),
        ]
        with self.log.open("w") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own command line
                command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
            )
        for _ in range(300):
            try:
                if self.get("/healthz", {})[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            self.__exit__()
            raise SystemExit(f"gunicorn did not start; see {self.log}:\n{self.log.read_text()}")
        print(f"gunicorn on {self.base}, worker {self.worker()}", flush=True)
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(timeout=30)

    def get(self, path, headers):
        """(status, seconds, body) of one GET."""
        request = urllib.request.Request(self.base + path, headers=headers)  # noqa: S310
        started = time.perf_counter()
        try:
            with self.opener.open(request, timeout=900) as response:
                body = response.read()
                status = response.status
        except urllib.error.HTTPError as error:
            body, status = error.read(), error.code
        return status, time.perf_counter() - started, body

    def sign_in(self, email):
        """The session cookie of ``email``, signed in through the sign-in form."""
        request = urllib.request.Request(self.base + FLOOR)  # noqa: S310
        with self.opener.open(request) as response:
            cookies = _cookies(response)
            found = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', response.read())
        if found is None:
            raise SystemExit("The sign-in page has no CSRF token")
        form = {"username": email, "password": PASSWORD, "csrfmiddlewaretoken": found[1].decode()}
        request = urllib.request.Request(  # noqa: S310
            self.base + FLOOR,
            data=urllib.parse.urlencode(form).encode(),
            headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())},
        )
        try:
            response = self.opener.open(request)
        except urllib.error.HTTPError as error:
            response = error  # the redirect after signing in
        cookies |= _cookies(response)
        if "sessionid" not in cookies:
            raise SystemExit(f"Could not sign in as {email} (status {response.status})")
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}

    def worker(self):
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return int(children.read_text().split()[0])

    def memory(self):
        """The worker's (VmRSS, VmHWM) in MB."""
        lines = Path(f"/proc/{self.worker()}/status").read_text().splitlines()
        kb = dict(line.split(":", 1) for line in lines if line.startswith(("VmRSS", "VmHWM")))
        return tuple(int(kb[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM"))


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _cookies(response):
    pairs = (
        header.split(";")[0].split("=", 1)
        for header in response.headers.get_all("Set-Cookie") or []
    )
    return {name.strip(): value for name, value in pairs}


# Jobs -----------------------------------------------------------------------------------------


def run_jobs(args):
    """The job benches in empty databases of their own; their ratio to a bulk insert."""
    benches = [
        ("monthly invoice run", "bench_invoicing.py", ["--agreements", str(args.agreements)]),
        ("renewal of due agreements", "bench_renewal.py", []),
    ]
    results: list[tuple[str, float | None, str]] = []
    for name, script, options in benches:
        path = ROOT / "bench" / script
        if not path.exists():
            print(f"{name}: bench/{script} is not there yet; skipped")
            results.append((name, None, f"bench/{script} (not there yet)"))
            continue
        url = f"{args.database_url}_{Path(script).stem.removeprefix('bench_')}"
        ensure_database(url, fresh=True)
        command = [sys.executable, str(path), *options, "--database-url", url]
        print(f"{name}: {' '.join(command[1:])}", flush=True)
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)  # noqa: S603
        print(done.stdout + done.stderr[-3000:], flush=True)
        ratios = re.findall(r"ratio[^0-9\n]*([0-9]+(?:\.[0-9]+)?)\s*×", done.stdout)
        ratio = float(ratios[-1]) if ratios and done.returncode == 0 else None
        took = time.perf_counter() - started
        results.append((name, ratio, f"bench/{script} {' '.join(options)} ({took:.0f} s)"))
    return results


# Report ---------------------------------------------------------------------------------------


def report(args, pages, memory, jobs, today):
    print()
    print(
        f"Pages at {args.agreements:,} agreements, {args.pairs} interleaved pairs each, "
        f"ratio to the sign-in page ({today.isoformat()}, load "
        f"{os.getloadavg()[0]:.1f}):"
    )
    print()
    print("| page | median ratio | min–max | median time | bytes | status | queries (most rows) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for page in pages:
        queries = "" if page.queries is None else f"{page.queries} ({page.most_rows:,})"
        if page.note:
            print(f"| {page.name} | {page.note} | | | | | |")
            continue
        print(
            f"| {page.name} | **{statistics.median(page.ratios):.1f}×** | "
            f"{min(page.ratios):.1f}–{max(page.ratios):.1f}× | "
            f"{statistics.median(page.times) * 1000:,.0f} ms | {page.size:,} | {page.status} | "
            f"{queries} |"
        )
    print()
    print("| gunicorn worker | VmRSS | VmHWM (peak) |")
    print("| --- | --- | --- |")
    for label, (rss, hwm) in memory:
        print(f"| {label} | {rss:,.0f} MB | {hwm:,.0f} MB |")
    if jobs:
        print()
        print("| job | ratio to a bulk insert of the same rows | bench |")
        print("| --- | --- | --- |")
        for name, ratio, source in jobs:
            shown = "see its output" if ratio is None else f"**{ratio:.1f}×**"
            print(f"| {name} | {shown} | {source} |")


if __name__ == "__main__":
    main()
