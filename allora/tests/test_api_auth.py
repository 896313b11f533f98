"""Personal API tokens (created and revoked in the profile, stored hashed, shown once), the
session for the browser (CSRF on unsafe methods), and the docs served without a CDN."""

import datetime as dt
import hashlib
import re

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from allora.models import ApiToken
from allora.tests.api_support import bearer

ME = "/api/v1/me"


def test_token_is_created_in_the_profile_shown_once_and_stored_hashed(client_for, alice):
    client = client_for(alice)
    response = client.post(reverse("profile"), {"name": "RMM sync"})
    assert response.status_code == 200
    secret = re.search(r'value="(alr_[^"]+)"', response.content.decode()).group(1)
    token = ApiToken.objects.get(user=alice)
    assert token.name == "RMM sync"
    assert token.token_sha256 == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ApiToken.objects.values().get())  # only the digest is stored
    assert token.prefix == secret[:12]

    page = client.get(reverse("profile")).content.decode()
    assert secret not in page  # shown once
    assert f"{token.prefix}…" in page
    assert "never" in page  # not used yet

    answer = Client().get(ME, headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 200
    assert answer.json()["email"] == alice.email
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_a_token_records_its_last_use_at_most_once_a_minute(alice):
    headers = bearer(alice)
    token = ApiToken.objects.get(user=alice)
    first = dt.datetime(2026, 11, 30, 14, 0, tzinfo=dt.UTC)

    def read_me(at):
        with time_machine.travel(at, tick=False), CaptureQueriesContext(connection) as queries:
            assert Client().get(ME, headers=headers).status_code == 200
        return [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]

    assert len(read_me(first)) == 1
    assert read_me(first + dt.timedelta(seconds=59)) == []  # a read stays a read
    token.refresh_from_db()
    assert token.last_used_at == first
    assert len(read_me(first + dt.timedelta(seconds=60))) == 1
    token.refresh_from_db()
    assert token.last_used_at == first + dt.timedelta(seconds=60)


def test_revoked_token_gets_401_json(client_for, alice):
    headers = bearer(alice)
    token = ApiToken.objects.get(user=alice)
    assert Client().get(ME, headers=headers).status_code == 200
    client = client_for(alice)
    url = reverse("api_token_revoke", args=[token.pk])
    assert "Revoke the API token" in client.get(url).content.decode()
    assert client.post(url).status_code == 302
    response = Client().get(ME, headers=headers)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response.json() == {"detail": "Invalid or revoked API token"}


def test_another_persons_token_cannot_be_revoked(client_for, alice, bob):
    token, _secret = ApiToken.issue(alice, name="mine")
    url = reverse("api_token_revoke", args=[token.pk])
    assert client_for(bob).post(url).status_code == 404
    token.refresh_from_db()
    assert token.is_active


@pytest.mark.parametrize(
    "header",
    ["Bearer alr_wrong", "Bearer ", "Bearer x y z", "Basic dXNlcjpwYXNz", "Token abc"],
)
def test_wrong_or_missing_token_is_401_json(db, header):
    response = Client().get(ME, headers={"Authorization": header})
    assert response.status_code == 401
    assert "detail" in response.json()


def test_wrong_token_is_401_even_on_a_post(db):
    response = Client().post(
        "/api/v1/customers", {}, content_type="application/json", headers=_bad()
    )
    assert response.status_code == 401


def _bad():
    return {"Authorization": "Bearer alr_not-a-token"}


def test_anonymous_gets_401(db):
    assert Client().get("/api/v1/customers").status_code == 401
    response = Client().post("/api/v1/customers", {}, content_type="application/json")
    assert response.status_code == 401


def test_token_of_a_deactivated_user_stops_working(alice):
    headers = bearer(alice)
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    assert Client().get(ME, headers=headers).status_code == 401


def test_session_works_for_the_browser_and_unsafe_methods_need_csrf(staff):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    assert client.get(ME).json()["role"] == "staff"
    payload = {
        "legal_name": "Capital Dental, PA",
        "address_line1": "1 Fayetteville St",
        "postal_code": "27601",
        "phone": "(919) 555-0111",
    }
    refused = client.post("/api/v1/customers", payload, content_type="application/json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    client.get(reverse("profile"))  # sets the CSRF cookie
    csrf = client.cookies["csrftoken"].value
    accepted = client.post(
        "/api/v1/customers", payload, content_type="application/json", headers={"X-CSRFToken": csrf}
    )
    assert accepted.status_code == 201


def test_docs_use_the_vendored_swagger_ui_and_no_cdn(client_for, staff):
    html = client_for(staff).get("/api/v1/docs").content.decode()
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in html
    assert "/static/vendor/swagger-ui/swagger-ui.css" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert '"url": "/api/v1/openapi.json"' in html


def test_openapi_schema_documents_token_and_session(db):
    schema = Client().get("/api/v1/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    assert set(schema["components"]["securitySchemes"]) == {"TokenAuth", "SessionAuth"}
    assert "/api/v1/agreements/{agreement_id}/termination-requests" in schema["paths"]


def test_profile_links_the_api_for_staff_and_customers(client_for, staff, alice):
    for user in (staff, alice):
        page = client_for(user).get(
            reverse("agreements:customer_list" if user == staff else "portal:home")
        )
        assert reverse("profile") in page.content.decode()
