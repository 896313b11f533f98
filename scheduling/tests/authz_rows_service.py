"""Authorization matrix rows for Emergency Support (scheduling) and projects (agreements),
merged by allora/tests/test_authorization.py. Objects belong to customer A."""

from django.utils import timezone

from allora.tests.authz import PORTAL, STAFF, STAFF_POST

# bob (customer B) asks for customer A's object: 404, never a hint that it exists.
PORTAL_OF_A = (302, 404, 200, 403, 403)
PORTAL_POST = (302, 405, 405, 403, 403)


def _emergency(objs):
    from scheduling.emergencies import file_request

    emergency = file_request(
        objs["customer"],
        summary="The server is down",
        contact_name="Alice Moore",
        contact_phone="(919) 555-0101",
        site="100 Hillsborough Street",
        channel="portal",
        received_at=timezone.now(),
        by=objs["alice"],
        now=timezone.now(),
    )
    return {"pk": emergency.pk}


def _project(objs):
    from agreements.models import Contact
    from agreements.projects import create_project
    from allora.timeutils import local_today

    Contact.objects.filter(user=objs["alice"]).update(is_project_approver=True)
    project = create_project(
        objs["customer"],
        title="Office move",
        scope="Move the network to the new office.",
        hours=10,
        by=objs["staff"],
        today=local_today(),
    )
    return project


def _project_pk(objs):
    return {"pk": _project(objs).pk}


def _estimate_pk(objs):
    return {"pk": _project(objs).estimates.get().pk}


ROWS = {
    "scheduling:emergency_list": (None, STAFF),
    "scheduling:emergency_create": (None, STAFF),
    "scheduling:emergency_detail": (_emergency, STAFF),
    "scheduling:emergency_acknowledge": (_emergency, STAFF_POST),
    "scheduling:emergency_close": (_emergency, STAFF_POST),
    "scheduling:emergency_log_time": (_emergency, STAFF_POST),
    "scheduling:portal_emergency_list": (None, PORTAL),
    "scheduling:portal_emergency_create": (None, PORTAL),
    "scheduling:portal_emergency_detail": (_emergency, PORTAL_OF_A),
    "agreements:project_list": (None, STAFF),
    "agreements:project_create": (None, STAFF),
    "agreements:project_detail": (_project_pk, STAFF),
    "agreements:project_estimate": (_project_pk, STAFF_POST),
    "agreements:project_log_time": (_project_pk, STAFF_POST),
    "agreements:project_start": (_project_pk, STAFF_POST),
    "agreements:project_complete": (_project_pk, STAFF_POST),
    "agreements:portal_project_list": (None, PORTAL),
    "agreements:portal_project_detail": (_project_pk, PORTAL_OF_A),
    "agreements:portal_estimate_decide": (_estimate_pk, PORTAL_POST),
}
