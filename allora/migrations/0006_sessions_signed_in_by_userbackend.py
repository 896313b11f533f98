"""Sessions signed in before allora.sessions.UserBackend name Django's ModelBackend, which is no
longer in AUTHENTICATION_BACKENDS: without this, Django would treat them as signed out. They
name the new backend instead (the same checks, a cheaper read of the user)."""

from django.db import migrations
from django.utils import timezone

OLD = "django.contrib.auth.backends.ModelBackend"
NEW = "allora.sessions.UserBackend"
BACKEND = "_auth_user_backend"  # django.contrib.auth.BACKEND_SESSION_KEY


def rename_backend(apps, schema_editor, *, old=OLD, new=NEW):
    # Django's own store, for the same encoding (sessions sign their data with SECRET_KEY).
    from django.contrib.sessions.backends.db import SessionStore

    Session = apps.get_model("sessions", "Session")
    store = SessionStore()
    alias = schema_editor.connection.alias
    live = Session.objects.using(alias).filter(expire_date__gt=timezone.now())
    for session in live.iterator(chunk_size=500):
        data = store.decode(session.session_data)
        if data.get(BACKEND) == old:
            data[BACKEND] = new
            session.session_data = store.encode(data)
            session.save(using=alias, update_fields=["session_data"])


def rename_back(apps, schema_editor):
    rename_backend(apps, schema_editor, old=NEW, new=OLD)


class Migration(migrations.Migration):
    dependencies = [
        ("allora", "0005_figure_snapshot"),
        ("sessions", "0001_initial"),
    ]

    operations = [migrations.RunPython(rename_backend, rename_back, elidable=True)]
