"""Authorization matrix rows for service delivery: Emergency Support and projects, the staff
pages (``delivery:``) and the customer's (``portal:``). Merged by
allora/tests/test_authorization.py. Objects belong to customer A."""

from django.utils import timezone

from allora.tests.authz import PORTAL, STAFF, STAFF_POST

# bob (customer B) asks for customer A's object: 404, never a hint that it exists.
PORTAL_OF_A = (302, 404, 200, 403, 403)
PORTAL_POST = (302, 405, 405, 403, 403)


def _emergency(objs):
    from delivery.emergencies import file_request

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
    from allora.timeutils import local_today
    from delivery.tests.factories import office_move

    return office_move(
        objs["customer"], approver=objs["alice"], by=objs["staff"], today=local_today()
    )


def _project_pk(objs):
    return {"pk": _project(objs).pk}


def _milestone_pk(objs):
    from delivery.projects import propose_estimate

    project = _project(objs)
    estimate = propose_estimate(
        project,
        hours=10,
        by=objs["staff"],
        today=project.created_at.date(),
        billing="fixed",
        schedule="milestones",
        milestones=[("Design", None, 50), ("Installation", None, 50)],
    )
    return {"pk": estimate.milestones.first().pk}


def _estimate_pk(objs):
    return {"pk": _project(objs).estimates.get().pk}


ROWS = {
    "delivery:emergency_list": (None, STAFF),
    "delivery:emergency_create": (None, STAFF),
    "delivery:emergency_detail": (_emergency, STAFF),
    "delivery:emergency_acknowledge": (_emergency, STAFF_POST),
    "delivery:emergency_close": (_emergency, STAFF_POST),
    "delivery:emergency_log_time": (_emergency, STAFF_POST),
    "portal:emergency_list": (None, PORTAL),
    "portal:emergency_create": (None, PORTAL),
    "portal:emergency_detail": (_emergency, PORTAL_OF_A),
    "delivery:project_list": (None, STAFF),
    "delivery:project_create": (None, STAFF),
    "delivery:project_detail": (_project_pk, STAFF),
    "delivery:project_estimate": (_project_pk, STAFF_POST),
    "delivery:project_log_time": (_project_pk, STAFF_POST),
    "delivery:project_start": (_project_pk, STAFF_POST),
    "delivery:project_complete": (_project_pk, STAFF_POST),
    "delivery:project_invoice": (_project_pk, STAFF_POST),
    "delivery:project_milestone_complete": (_milestone_pk, STAFF_POST),
    "portal:project_list": (None, PORTAL),
    "portal:project_detail": (_project_pk, PORTAL_OF_A),
    "portal:estimate_decide": (_estimate_pk, PORTAL_POST),
}
