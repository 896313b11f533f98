"""Webhooks: emitting an event (one delivery row per subscribed endpoint, written in the
caller's transaction), sending a delivery (a signed JSON POST) and retrying it with backoff,
and the rules a webhook URL must follow.

- ``emit``/``emit_many`` run inside the business transaction that made the event happen, so
  a delivery exists exactly when the event does. They read the active endpoints once (one
  query, nothing else when none subscribes) and insert the deliveries in one statement; the
  sending is queued after the commit. The (endpoint, event id) unique constraint makes an
  event emitted twice (a job run again) one delivery.
- ``deliver`` claims one due delivery with a conditional UPDATE (attempts + 1, next attempt
  pushed past the timeout), so two workers never send the same attempt; then POSTs outside
  any transaction and records the answer: 2xx delivered; otherwise the next attempt after
  ``BACKOFF``, and failed after ``MAX_ATTEMPTS``.
- The body is signed: ``X-Allora-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">``
  with the endpoint's secret (README, "Webhooks").
"""

import dataclasses
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import socket
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F

from .models import (
    RESPONSE_MAX_LENGTH,
    TEST_EVENT,
    URL_MAX_LENGTH,
    WebhookDelivery,
    WebhookEndpoint,
)

Status = WebhookDelivery.Status
Payload = dict | Callable[[], dict]

# The waits after the 1st, 2nd, … failed attempt; after the last one the delivery has failed.
BACKOFF = (
    dt.timedelta(minutes=1),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=30),
    dt.timedelta(hours=2),
    dt.timedelta(hours=12),
)
MAX_ATTEMPTS = len(BACKOFF) + 1
TIMEOUT_SECONDS = 10
# An attempt under way holds its delivery this long (well past the timeout); should the worker
# die meanwhile, the next sweep takes the delivery up again.
LEASE = dt.timedelta(minutes=2)
# The most deliveries one sweep queues; the next sweep (a minute later) takes the rest.
SWEEP_LIMIT = 500
USER_AGENT = "Allora-Webhooks/1"


# Emitting ---------------------------------------------------------------------------------


def subscribers(event: str) -> list[WebhookEndpoint]:
    """The active endpoints subscribed to ``event`` (one query: the endpoints are few)."""
    active = WebhookEndpoint.objects.filter(is_active=True).only("pk", "events")
    return [endpoint for endpoint in active if event in endpoint.events]


def emit(event: str, payload: Payload, *, now: dt.datetime, event_id: str = "") -> int:
    """Emit one event to its subscribers (inside the caller's transaction); the deliveries
    created. ``payload`` is a dict, or a function returning it (called only when some
    endpoint subscribes); ``event_id`` identifies the event for receivers (new when empty)."""
    return emit_many(event, [(event_id or f"evt_{uuid.uuid4().hex}", payload)], now=now)


def emit_many(event: str, items: Iterable[tuple[str, Payload]], *, now: dt.datetime) -> int:
    """Emit many events of one kind, ``items`` as (event id, payload) pairs, with one read of
    the endpoints and one multi-row insert. ``items`` is iterated (and a payload function
    called) only when some endpoint subscribes: otherwise the events cost that one read."""
    endpoints = subscribers(event)
    if not endpoints:
        return 0
    rows = []
    for event_id, payload in items:
        data = envelope(event, event_id, payload() if callable(payload) else payload, now=now)
        rows += [
            WebhookDelivery(
                endpoint=endpoint,
                event=event,
                event_id=event_id,
                payload=data,
                next_attempt_at=now,
                created_at=now,
            )
            for endpoint in endpoints
        ]
    if rows:
        WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
        transaction.on_commit(queue_due_deliveries)
    return len(rows)


def envelope(event: str, event_id: str, data: dict, *, now: dt.datetime) -> dict:
    return {"id": event_id, "event": event, "created_at": now.isoformat(), "data": data}


def queue_due_deliveries():
    from .tasks import send_due_webhooks

    send_due_webhooks.delay()


def queue_delivery(delivery_id: int):
    from .tasks import deliver_webhook

    deliver_webhook.delay(delivery_id)


def send_test_event(endpoint: WebhookEndpoint, *, by, now: dt.datetime) -> WebhookDelivery:
    """A "webhook.test" event to this endpoint alone (whatever it subscribes to), sent after
    the commit."""
    event_id = f"evt_test_{uuid.uuid4().hex}"
    data = {"message": "A test event from Allora.", "sent_by": by.email}
    with transaction.atomic():
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint,
            event=TEST_EVENT,
            event_id=event_id,
            payload=envelope(TEST_EVENT, event_id, data, now=now),
            next_attempt_at=now,
            created_at=now,
        )
        transaction.on_commit(lambda: queue_delivery(delivery.pk))
    return delivery


def retry_now(delivery: WebhookDelivery, *, now: dt.datetime):
    """An admin's "Retry now": a failed or waiting delivery gets one more attempt at once
    (a failed one fails again if that attempt fails too). Not while an attempt is under way
    (claimed, its lease running): that would send the event twice at once."""
    with transaction.atomic():
        current = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        if current.status == Status.DELIVERED:
            raise ValidationError("This event was delivered: there is nothing to retry.")
        if current.status == Status.PENDING and _under_way(current, now=now):
            raise ValidationError("An attempt is under way: see its answer in a moment.")
        current.status, current.next_attempt_at = Status.PENDING, now
        current.save(update_fields=["status", "next_attempt_at"])
        transaction.on_commit(lambda: queue_delivery(delivery.pk))


def _under_way(delivery: WebhookDelivery, *, now: dt.datetime) -> bool:
    """Claimed by a worker whose lease has not run out (`_claim` set it so)."""
    last, next_at = delivery.last_attempt_at, delivery.next_attempt_at
    return bool(last and next_at and next_at == last + LEASE and next_at > now)


# Sending ----------------------------------------------------------------------------------


def due_delivery_ids(*, now: dt.datetime, limit: int = SWEEP_LIMIT) -> list[int]:
    """The deliveries whose (next) attempt is due, the longest waiting first."""
    return list(
        WebhookDelivery.objects.filter(status=Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


@dataclasses.dataclass(frozen=True)
class Answer:
    status: int | None = None  # the HTTP status code (None: no answer)
    body: str = ""
    error: str = ""
    final: bool = False  # no point trying again (the URL is refused)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _claim(delivery_id: int, *, now: dt.datetime) -> bool:
    """Take one due attempt of a delivery: a conditional UPDATE, so of two workers (or a sweep
    run twice) exactly one gets it."""
    return bool(
        WebhookDelivery.objects.filter(
            pk=delivery_id, status=Status.PENDING, next_attempt_at__lte=now
        ).update(attempts=F("attempts") + 1, last_attempt_at=now, next_attempt_at=now + LEASE)
    )


def deliver(delivery_id: int, *, now: dt.datetime) -> WebhookDelivery | None:
    """Send one due delivery and record the answer; None when it is not due (delivered, given
    up, waiting for its next attempt, or another worker is sending it)."""
    if not _claim(delivery_id, now=now):
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    if not endpoint.is_active and delivery.event != TEST_EVENT:
        answer = Answer(error="The endpoint is turned off.", final=True)
    else:
        answer = post(endpoint.url, secret=endpoint.secret, delivery=delivery, now=now)
    return _record(delivery, answer, now=now)


def _record(delivery: WebhookDelivery, answer: Answer, *, now: dt.datetime) -> WebhookDelivery:
    delivery.response_status = answer.status
    delivery.response_body = answer.body[:RESPONSE_MAX_LENGTH]
    delivery.error = answer.error[:300]
    if answer.ok:
        delivery.status, delivery.delivered_at = Status.DELIVERED, now
        delivery.next_attempt_at = None
    elif answer.final or delivery.attempts >= MAX_ATTEMPTS:
        delivery.status, delivery.next_attempt_at = Status.FAILED, None
    else:
        delivery.next_attempt_at = now + BACKOFF[min(delivery.attempts, len(BACKOFF)) - 1]
    fields = ["status", "next_attempt_at", "delivered_at", "response_status", "response_body"]
    # Only the attempt this worker claimed: a later claim (after the lease ran out) wins.
    WebhookDelivery.objects.filter(
        pk=delivery.pk, status=Status.PENDING, attempts=delivery.attempts
    ).update(**{name: getattr(delivery, name) for name in [*fields, "error"]})
    return delivery


def body_of(delivery: WebhookDelivery) -> bytes:
    return json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()


def signature(secret: str, *, timestamp: str, body: bytes) -> str:
    """The X-Allora-Signature header: HMAC-SHA256 of "<timestamp>.<body>" with the secret."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def headers(delivery: WebhookDelivery, *, secret: str, body: bytes, now: dt.datetime) -> dict:
    timestamp = str(int(now.timestamp()))
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Allora-Event": delivery.event,
        "X-Allora-Event-Id": delivery.event_id,
        "X-Allora-Delivery": str(delivery.pk),
        "X-Allora-Attempt": str(delivery.attempts),
        "X-Allora-Timestamp": timestamp,
        "X-Allora-Signature": signature(secret, timestamp=timestamp, body=body),
    }


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer (3xx), never followed: it could lead to an address the URL
    rules refuse."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def post(url: str, *, secret: str, delivery: WebhookDelivery, now: dt.datetime) -> Answer:
    """POST the delivery's JSON to ``url``, signed; the answer (never raises)."""
    try:
        check_destination(url)
    except ValidationError as error:
        return Answer(error=" ".join(error.messages), final=True)
    except OSError as error:
        return Answer(error=f"The host name could not be resolved: {error}")
    body = body_of(delivery)
    request = urllib.request.Request(  # noqa: S310 -- the scheme is http(s), checked above
        url, data=body, method="POST", headers=headers(delivery, secret=secret, body=body, now=now)
    )
    try:
        opener = urllib.request.build_opener(_NoRedirects)  # the proxy settings of today
        with opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            return Answer(status=response.status, body=_read(response))
    except urllib.error.HTTPError as error:  # an answer all the same (3xx, 4xx, 5xx)
        with error:
            return Answer(status=error.code, body=_read(error))
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", None) or error
        return Answer(error=f"No answer: {reason}")


def _read(response) -> str:
    try:
        return response.read(RESPONSE_MAX_LENGTH).decode("utf-8", errors="replace")
    except OSError:
        return ""


# The URL rules ----------------------------------------------------------------------------

LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")


def check_url(url: str, *, request_host: str = "") -> str:
    """A webhook URL as given, or a ValidationError saying plainly what is wrong: http(s)
    only, with a host, no user name or password, at most 500 characters, never Allora itself
    (SITE_URL, ALLOWED_HOSTS, the host of the page) and, unless WEBHOOKS_ALLOW_PRIVATE is on,
    never a local or private address."""
    url = url.strip()
    if len(url) > URL_MAX_LENGTH:
        raise ValidationError(f"A webhook URL has at most {URL_MAX_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError on a port that is not a number
    except ValueError as error:
        raise ValidationError("Enter a valid URL, such as https://example.com/hooks.") from error
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValidationError(
            "A webhook URL starts with https:// (or http://); %(scheme)s cannot receive webhooks.",
            params={"scheme": f"{scheme}://" if scheme else "an address without a scheme"},
        )
    host = _normal(parts.hostname or "")
    if not host:
        raise ValidationError("A webhook URL needs a host, such as https://example.com/hooks.")
    if parts.username or parts.password:
        raise ValidationError(
            "Leave the user name and password out of the URL: receivers check the signature."
        )
    if is_own_host(host, request_host=request_host):
        raise ValidationError(
            "This URL points at Allora itself (%(host)s): webhooks go to another system.",
            params={"host": host},
        )
    if not settings.WEBHOOKS_ALLOW_PRIVATE and _is_local(host):
        raise ValidationError(
            "This URL points at a local or private address (%(host)s); webhooks go to a "
            "public address.",
            params={"host": host},
        )
    return url


def check_destination(url: str):
    """At sending time: the URL rules again (the settings may have changed), and the
    addresses its host resolves to now (raises OSError when it does not resolve)."""
    check_url(url)
    if settings.WEBHOOKS_ALLOW_PRIVATE:
        return
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    for *_, address in socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP):
        if _is_private(ipaddress.ip_address(address[0])):
            raise ValidationError(
                "The host %(host)s resolves to a private address (%(address)s).",
                params={"host": parts.hostname, "address": address[0]},
            )


def own_hosts(request_host: str = "") -> set[str]:
    """The names Allora answers to, on any port: SITE_URL's host, ALLOWED_HOSTS (an entry
    ".example.com" stands for example.com and every name under it) and the host the page was
    asked for."""
    names = {urlsplit(settings.SITE_URL).hostname or "", request_host.rsplit(":", 1)[0]}
    names |= {entry for entry in settings.ALLOWED_HOSTS if entry != "*"}
    return {_normal(name) for name in names} - {""}


def is_own_host(host: str, *, request_host: str = "") -> bool:
    host = _normal(host)
    for name in own_hosts(request_host):
        if host == name.lstrip(".") or (name.startswith(".") and host.endswith(name)):
            return True
    return False


def _normal(host: str) -> str:
    return host.strip().lower().strip("[]").rstrip(".")


def _literal_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host names literally, including the short IPv4 forms the resolver
    accepts ("127.1", "2130706433")."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if not all(part.isalnum() for part in host.split(".")) or not host[0].isdigit():
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def _is_private(address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


def _is_local(host: str) -> bool:
    address = _literal_ip(host)
    if address is not None:
        return _is_private(address)
    return host in LOCAL_NAMES or host.endswith(LOCAL_SUFFIXES) or "." not in host
