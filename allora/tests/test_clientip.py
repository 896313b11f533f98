"""The client's address behind a reverse proxy: X-Forwarded-For is believed only from a proxy in
TRUSTED_PROXIES, so a client cannot put someone else's address on its signature."""

import pytest
from django.test import RequestFactory, override_settings
from django.urls import reverse

from agreements.models import AgreementVersion
from agreements.tests.factories import SIGNATURE_PNG, sent_agreement
from allora.clientip import client_ip, trusted_networks
from allora.tests.test_settings import PRODUCTION, manage
from billing.tests.factories import published_card

PROXIES = ["127.0.0.1", "10.0.0.0/8", "::1"]


def request_from(remote, forwarded=None):
    headers = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **headers)


@override_settings(TRUSTED_PROXIES=[])
def test_without_trusted_proxies_the_header_is_ignored():
    assert client_ip(request_from("198.51.100.4", "203.0.113.66")) == "198.51.100.4"


@override_settings(TRUSTED_PROXIES=PROXIES)
def test_a_spoofed_header_from_an_untrusted_peer_is_ignored():
    assert client_ip(request_from("198.51.100.4", "203.0.113.66, 127.0.0.1")) == "198.51.100.4"


@override_settings(TRUSTED_PROXIES=PROXIES)
@pytest.mark.parametrize(
    ("remote", "forwarded", "client"),
    [
        ("127.0.0.1", "198.51.100.4", "198.51.100.4"),
        # The client wrote "203.0.113.66" itself; the proxy appended the address it saw.
        ("127.0.0.1", "203.0.113.66, 198.51.100.4", "198.51.100.4"),
        # Two proxies: the load balancer (10.x) and the local nginx.
        ("127.0.0.1", "203.0.113.66, 198.51.100.4, 10.1.2.3", "198.51.100.4"),
        ("::1", "2001:db8::7", "2001:db8::7"),
        # Garbage left of the last trusted hop stops the walk there.
        ("127.0.0.1", "198.51.100.4, not-an-address, 10.1.2.3", "10.1.2.3"),
        ("127.0.0.1", "", "127.0.0.1"),
        ("127.0.0.1", None, "127.0.0.1"),
    ],
)
def test_from_a_trusted_proxy_the_right_most_untrusted_address_is_the_client(
    remote, forwarded, client
):
    assert client_ip(request_from(remote, forwarded)) == client


def test_a_bad_proxy_entry_is_refused():
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 network"):
        trusted_networks(["127.0.0.1", "proxy.example"])


@override_settings(TRUSTED_PROXIES=["127.0.0.1"])
@pytest.mark.parametrize(
    ("remote", "recorded"), [("127.0.0.1", "198.51.100.4"), ("203.0.113.9", "203.0.113.9")]
)
def test_the_signature_records_the_client_behind_the_proxy(
    customer_a, alice, staff, client_for, remote, recorded
):
    published_card()
    version = sent_agreement(customer=customer_a, customer_user=alice, sender=staff)
    response = client_for(alice).post(
        reverse("portal:agreement_sign", args=[version.agreement_id]),
        {"consent": "on", "typed_name": "Alice Moore", "title": "Owner", "drawing": SIGNATURE_PNG},
        REMOTE_ADDR=remote,
        HTTP_X_FORWARDED_FOR="192.0.2.1, 198.51.100.4",
    )
    assert response.status_code == 302
    version = AgreementVersion.objects.get(pk=version.pk)
    assert version.signatures.get(party="customer").ip_address == recorded


# Settings ------------------------------------------------------------------------------------


def production_setting(name, **env):
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        f"from django.conf import settings; print(repr(settings.{name}))",
        **{**PRODUCTION, **env},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_x_forwarded_proto_is_trusted_only_behind_a_configured_proxy():
    assert production_setting("SECURE_PROXY_SSL_HEADER") == "None"
    behind = "('HTTP_X_FORWARDED_PROTO', 'https')"
    assert production_setting("SECURE_PROXY_SSL_HEADER", TRUSTED_PROXIES="127.0.0.1") == behind
    assert production_setting("SECURE_PROXY_SSL_HEADER", BEHIND_PROXY="true") == behind


def test_production_behind_a_proxy_passes_check_deploy():
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION, TRUSTED_PROXIES="127.0.0.1"
    )
    assert result.returncode == 0, result.stderr


def test_a_bad_trusted_proxy_stops_the_start():
    result = manage("check", **PRODUCTION, TRUSTED_PROXIES="127.0.0.1,proxy.example")
    assert result.returncode != 0
    assert "TRUSTED_PROXIES: 'proxy.example' is not an IP address or network" in result.stderr
