"""schemathesis against a running server: every operation of /api/v1/openapi.json, with
generated valid and invalid requests, never answers with a 5xx.

The server is pytest-django's ``live_server`` (a real HTTP server in a thread). Calls use a
staff token; the operations only admins may call use an admin token instead, so their handlers
see the generated bodies (a staff token stops at the 403). Bounded for CI: at most EXAMPLES
requests per operation and generation mode (positive, negative). Dates and date-times are
drawn often at and beyond the accepted range (2000-01-01 .. 2100-12-31) and near year 9999,
where date arithmetic overflows."""

import datetime as dt

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from agreements.tests.factories import signed_agreement
from allora.models import ApiToken
from billing.tests.factories import published_card

EXAMPLES = 15
pytestmark = pytest.mark.django_db(transaction=True)

EDGE_DATES = [
    dt.date(2000, 1, 1),
    dt.date(2100, 12, 31),
    dt.date(1999, 12, 31),
    dt.date(2101, 1, 1),
    dt.date(9999, 12, 31),
    dt.date(1, 1, 1),
]
_dates = st.one_of(st.sampled_from(EDGE_DATES), st.dates())
_times = st.sampled_from(["00:00:00", "23:59:59", "12:30:00+05:00", "23:59:59-12:00", "00:00:00Z"])
schemathesis.openapi.format("date", _dates.map(dt.date.isoformat))
schemathesis.openapi.format(
    "date-time", st.builds(lambda day, time: f"{day.isoformat()}T{time}", _dates, _times)
)


def _token(user):
    return {"Authorization": f"Bearer {ApiToken.issue(user, name='schemathesis')[1]}"}


def test_no_generated_request_gets_a_server_error(live_server, customer_a, alice, staff, admin):
    published_card()
    signed_agreement(customer=customer_a, customer_user=alice, admin=admin, pdf=False)
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/openapi.json")
    callers = {"staff": _token(staff), "admin": _token(admin)}
    failures, calls = [], {"count": 0}

    def runner(operation, mode, who):
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case):
            response = case.call(base_url=live_server.url, headers=callers[who], timeout=30)
            calls["count"] += 1
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} as {who} ({mode.value}): "
                    f"{response.status_code} {response.text[:300]}"
                )

        return run

    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            for who in ("admin",) if _admin_only(operation) else ("staff",):
                runner(operation, mode, who)()

    assert calls["count"] > 500  # about 30 per operation
    assert failures == []


ADMIN_ONLY = {
    ("POST", "/api/v1/rate-cards"),
    ("POST", "/api/v1/rate-cards/{card_id}/publish"),
    ("POST", "/api/v1/rate-cards/{card_id}/new-version"),
    ("PUT", "/api/v1/agreements/{agreement_id}/rate-review"),
    ("POST", "/api/v1/rate-reviews/{review_id}/finalize"),
    ("POST", "/api/v1/imports"),
    ("GET", "/api/v1/imports/{job_id}"),
}


def _admin_only(operation):
    return (operation.method.upper(), operation.path) in ADMIN_ONLY
