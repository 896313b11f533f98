"""A webhook URL is http(s), names a host, is not Allora itself and (unless allowed, for
development) not a local or private address: a clear message, nothing written."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from integrations import webhooks
from integrations.models import WebhookEndpoint


def refusal(url, *, request_host="") -> str:
    with pytest.raises(ValidationError) as raised:
        webhooks.check_url(url, request_host=request_host)
    return " ".join(raised.value.messages)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "ftp://files.example.com/drop",
            "A webhook URL starts with https:// (or http://); ftp:// cannot receive webhooks.",
        ),
        (
            "javascript:alert(1)",
            "A webhook URL starts with https:// (or http://); javascript:// cannot receive "
            "webhooks.",
        ),
        ("https:///hooks", "A webhook URL needs a host, such as https://example.com/hooks."),
        (
            "https://user:secret@hooks.example.com/",
            "Leave the user name and password out of the URL: receivers check the signature.",
        ),
        (
            "https://allora.example/api/v1/hooks",
            "This URL points at Allora itself (allora.example): webhooks go to another system.",
        ),
        (
            "https://ALLORA.example.:8443/x",
            "This URL points at Allora itself (allora.example): webhooks go to another system.",
        ),
        (
            "https://billing.allora-app.example/x",  # ALLOWED_HOSTS ".allora-app.example"
            "This URL points at Allora itself (billing.allora-app.example): webhooks go to "
            "another system.",
        ),
        (
            "https://hooks.example.com:99999/",
            "Enter a valid URL, such as https://example.com/hooks.",
        ),
        ("https://hooks.example.com/" + "a" * 480, "A webhook URL has at most 500 characters."),
    ],
)
def test_a_bad_url_is_refused_with_a_clear_message(url, message):
    assert refusal(url) == message


def test_the_host_the_page_was_asked_for_is_allora_itself():
    assert "points at Allora itself (intranet.allora.test)" in refusal(
        "http://intranet.allora.test/hooks", request_host="intranet.allora.test:8000"
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:9000/hooks",
        "http://api.localhost/hooks",
        "http://printer.local/hooks",
        "http://intranet/hooks",
        "http://127.0.0.1:8000/hooks",
        "http://127.1/hooks",  # a short form the resolver accepts
        "http://2130706433/hooks",  # 127.0.0.1 as one number
        "http://10.0.0.5/hooks",
        "http://192.168.1.20/hooks",
        "http://169.254.169.254/latest/meta-data",  # a cloud's metadata service
        "http://[::1]:8000/hooks",
        "http://[::ffff:10.0.0.1]/hooks",
        "http://[fd00::1]/hooks",
        "http://0.0.0.0/hooks",
    ],
)
def test_a_local_or_private_address_is_refused_unless_allowed(url, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    assert "points at a local or private address" in refusal(url)
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    assert webhooks.check_url(url) == url


@pytest.mark.parametrize(
    "url", ["https://hooks.example.com/allora", "http://93.184.215.14:8080/in", " https://x.io/h "]
)
def test_a_public_http_or_https_url_is_accepted(url, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    assert webhooks.check_url(url) == url.strip()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://files.example.com/drop", "ftp:// cannot receive webhooks"),
        ("https://allora.example/hooks", "points at Allora itself (allora.example)"),
        ("http://localhost:9000/hooks", "points at a local or private address (localhost)"),
        ("not a url", "Enter a valid URL."),
        ("https://hooks.example.com/" + "a" * 480, "at most 500 characters"),
    ],
)
def test_the_form_says_what_is_wrong_and_writes_nothing(url, message, client_for, admin, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    response = client_for(admin).post(
        reverse("integrations:endpoint_create"),
        {"url": url, "description": "Accounting", "events": ["invoice.paid"], "is_active": "on"},
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_with_any_host_allowed_the_host_of_the_page_is_allora_itself(client_for, admin, settings):
    settings.ALLOWED_HOSTS = ["*"]
    response = client_for(admin).post(
        reverse("integrations:endpoint_create"),
        {"url": "https://crm.allora.test/in", "events": ["invoice.paid"]},
        HTTP_HOST="crm.allora.test:8000",
    )
    assert "points at Allora itself (crm.allora.test)" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_an_endpoint_needs_an_event(client_for, admin):
    response = client_for(admin).post(
        reverse("integrations:endpoint_create"),
        {"url": "https://hooks.example.com/a", "events": [], "is_active": "on"},
    )
    assert "Choose at least one event." in response.content.decode()
    response = client_for(admin).post(
        reverse("integrations:endpoint_create"),
        {"url": "https://hooks.example.com/a", "events": ["invoice.refunded"]},
    )
    assert "Select a valid choice" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()
