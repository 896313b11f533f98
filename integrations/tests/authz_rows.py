"""Authorization matrix rows for the webhook pages (merged by
allora/tests/test_authorization.py): admins only."""

from allora.tests.authz import ADMIN, ADMIN_POST
from integrations.models import WebhookDelivery, WebhookEndpoint


def _endpoint(objs):
    if "webhook" not in objs:
        objs["webhook"] = WebhookEndpoint.objects.create(
            url="https://hooks.example.com/allora", events=["invoice.paid"]
        )
    return {"pk": objs["webhook"].pk}


def _delivery(objs):
    if "webhook_delivery" not in objs:
        _endpoint(objs)
        objs["webhook_delivery"] = WebhookDelivery.objects.create(
            endpoint=objs["webhook"],
            event="invoice.paid",
            event_id="invoice.paid.1",
            payload={},
            status="failed",
        )
    return {"pk": objs["webhook_delivery"].pk}


ROWS = {
    "integrations:endpoint_list": (None, ADMIN),
    "integrations:endpoint_create": (None, ADMIN),
    "integrations:endpoint_detail": (_endpoint, ADMIN),
    "integrations:endpoint_edit": (_endpoint, ADMIN),
    "integrations:endpoint_delete": (_endpoint, ADMIN),
    "integrations:endpoint_test": (_endpoint, ADMIN_POST),
    "integrations:delivery_detail": (_delivery, ADMIN),
    "integrations:delivery_retry": (_delivery, ADMIN_POST),
}
