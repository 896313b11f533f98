"""What every bench script starts with: its two common arguments, and Django set up on a database
of its own (a temporary SQLite file unless --database-url names an empty database)."""

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def arguments(doc: str, *, agreements: int) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--agreements", type=int, default=agreements)
    parser.add_argument("--database-url", help="an empty database to fill (default: SQLite)")
    return parser


def start(database_url: str | None, **environ: str) -> Path:
    """Set Django up on `database_url` (or a temporary SQLite file) with DEBUG on and warnings
    only in the log, plus `environ`; returns the bench's temporary folder."""
    workdir = Path(tempfile.mkdtemp(prefix="allora-bench-"))
    os.environ["DATABASE_URL"] = database_url or f"sqlite:///{workdir}/bench.sqlite3"
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "allora.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.update(environ)
    sys.path.insert(0, str(ROOT))

    import django

    django.setup()
    return workdir
