import importlib

from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate


def recount_visits_on_sqlite(using="default", **kwargs):
    """Recount the stored visit counts from the visits after a migrate or a flush, on SQLite.

    SQLite's flush (``manage.py flush``, and between transactional tests) deletes the tables
    one by one in no fixed order: when the counts go before the visits, the visits' delete
    triggers leave counts below zero. PostgreSQL truncates them together; there the triggers
    alone keep the counts and nothing is done here."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    if "scheduling_visitcount" not in connection.introspection.table_names():
        return  # migrating to before the counts
    backfill = importlib.import_module("scheduling.migrations.0006_visit_counts").SQLITE_FORWARD[-1]
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM scheduling_visitcount")
        cursor.execute(backfill)


class SchedulingConfig(AppConfig):
    name = "scheduling"

    def ready(self):
        post_migrate.connect(recount_visits_on_sqlite, sender=self)
