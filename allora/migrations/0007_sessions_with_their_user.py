"""Sessions move to allora.models.Session, which keeps the signed-in user beside the data so a
page reads both in one query (allora/sessions.py). The sessions still open in Django's table are
copied in, each with the user its data names, so the change signs nobody out. Going back puts
the sessions open then into Django's table instead of what it held before (a session signed out
since must not come back)."""

from django.conf import settings
from django.db import migrations, models
from django.utils import timezone

BATCH = 500


def _batches(rows):
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _live(model, alias):
    return model.objects.using(alias).filter(expire_date__gt=timezone.now()).iterator(BATCH)


def copy_sessions(apps, schema_editor):
    # Django's own store, for the same encoding (sessions sign their data with SECRET_KEY).
    from django.contrib.sessions.backends.db import SessionStore

    from allora.sessions import signed_in_id

    Old = apps.get_model("sessions", "Session")
    New = apps.get_model("allora", "Session")
    User = apps.get_model(settings.AUTH_USER_MODEL)
    alias = schema_editor.connection.alias
    store = SessionStore()
    for batch in _batches(_live(Old, alias)):
        named = {row.session_key: signed_in_id(store.decode(row.session_data)) for row in batch}
        # A user deleted since is nobody (Django's table had no foreign key to users).
        users = set(
            User.objects.using(alias)
            .filter(pk__in={pk for pk in named.values() if pk is not None})
            .values_list("pk", flat=True)
        )
        New.objects.using(alias).bulk_create(
            New(
                session_key=row.session_key,
                session_data=row.session_data,
                expire_date=row.expire_date,
                user_id=named[row.session_key] if named[row.session_key] in users else None,
            )
            for row in batch
        )


def copy_back(apps, schema_editor):
    Old = apps.get_model("sessions", "Session")
    New = apps.get_model("allora", "Session")
    alias = schema_editor.connection.alias
    Old.objects.using(alias).all().delete()
    for batch in _batches(_live(New, alias)):
        Old.objects.using(alias).bulk_create(
            Old(
                session_key=row.session_key,
                session_data=row.session_data,
                expire_date=row.expire_date,
            )
            for row in batch
        )


class Migration(migrations.Migration):
    dependencies = [
        ("allora", "0006_sessions_signed_in_by_userbackend"),
        ("sessions", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Session",
            fields=[
                (
                    "session_key",
                    models.CharField(
                        max_length=40,
                        primary_key=True,
                        serialize=False,
                        verbose_name="session key",
                    ),
                ),
                ("session_data", models.TextField(verbose_name="session data")),
                ("expire_date", models.DateTimeField(db_index=True, verbose_name="expire date")),
                (
                    "user",
                    models.ForeignKey(
                        null=True,
                        on_delete=models.CASCADE,
                        related_name="sessions",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "session",
                "verbose_name_plural": "sessions",
                "abstract": False,
            },
        ),
        migrations.RunPython(copy_sessions, copy_back, elidable=True),
    ]
