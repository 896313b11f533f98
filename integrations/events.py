"""The business events sent to webhooks, one function per event, called by the workflow that
makes it happen, inside its transaction (one line there). Each builds small JSON payloads
(ids, numbers, the customer's name, amounts as strings, dates in ISO format) and emits them;
a payload is built only when some endpoint subscribes (``webhooks.emit``), so an event nobody
subscribes to costs one query.

Event ids are derived from the object (``invoice.issued.123``): a workflow run again emits
the same event once, and a receiver can de-duplicate by it.

The objects come from other apps; this module reads their attributes and imports none of
them, so every app may call it."""

import datetime as dt

from .models import Event
from .webhooks import emit, emit_many


def _customer(customer) -> dict:
    return {"id": customer.pk, "name": customer.legal_name}


def _agreement(agreement) -> dict:
    return {"id": agreement.pk, "number": agreement.number, "status": agreement.status}


def _date(value) -> str | None:
    return value.isoformat() if value else None


def agreement_signed(version, *, now: dt.datetime) -> int:
    """Both parties signed a version: the original (the agreement is active) or an amendment."""
    agreement = version.agreement
    return emit(
        Event.AGREEMENT_SIGNED,
        lambda: {
            "agreement": _agreement(agreement),
            "customer": _customer(agreement.customer),
            "version": version.number,
            "amendment": version.is_amendment,
            "signed_at": now.isoformat(),
        },
        event_id=f"agreement.signed.{version.pk}",
        now=now,
    )


def _renewed(term) -> dict:
    return {
        "agreement": _agreement(term.agreement),
        "customer": _customer(term.agreement.customer),
        "term": {
            "number": term.number,
            "start": _date(term.start),
            "last_day": _date(term.last_day),
        },
    }


def agreements_renewed(terms, *, now: dt.datetime) -> int:
    """New terms added by the renewal job (each term's ``agreement`` loaded with its customer)."""
    if not terms:
        return 0
    return emit_many(
        Event.AGREEMENT_RENEWED,
        ((f"agreement.renewed.{t.agreement_id}.{t.number}", _renewed(t)) for t in terms),
        now=now,
    )


def agreement_ended(agreement, *, last_day: dt.date, now: dt.datetime) -> int:
    """An agreement ended at its term end (a timely request) or was terminated early."""
    return emit(
        Event.AGREEMENT_ENDED,
        lambda: {
            "agreement": _agreement(agreement),
            "customer": _customer(agreement.customer),
            "last_day": _date(last_day),
        },
        event_id=f"agreement.ended.{agreement.pk}",
        now=now,
    )


def _invoice(invoice) -> dict:
    return {
        "invoice": {
            "id": invoice.pk,
            "number": invoice.number,
            "kind": invoice.kind,
            "status": invoice.status,
            "period": _date(invoice.period),
            "issued_on": _date(invoice.issued_on),
            "due_on": _date(invoice.due_on),
            "total": str(invoice.total),
            "amount_paid": str(invoice.amount_paid),
            "balance": str(invoice.total - invoice.amount_paid),
            "paid_on": _date(invoice.paid_on),
            "currency": "USD",
        },
        "agreement": {"id": invoice.agreement_id, "number": invoice.agreement.number},
        "customer": _customer(invoice.customer),
    }


def invoices_issued(invoices, *, now: dt.datetime) -> int:
    """Invoices just stored (a chunk of the monthly run, one invoice, a final invoice): one
    read of the endpoints and one insert for the whole chunk."""
    if not invoices:
        return 0
    return emit_many(
        Event.INVOICE_ISSUED,
        ((f"invoice.issued.{invoice.pk}", _invoice(invoice)) for invoice in invoices),
        now=now,
    )


def invoice_paid(invoice, *, now: dt.datetime) -> int:
    """An invoice is paid in full (the payment that brought its balance to zero)."""
    if invoice.status != "paid":
        return 0
    return emit(
        Event.INVOICE_PAID,
        lambda: _invoice(invoice),
        event_id=f"invoice.paid.{invoice.pk}",
        now=now,
    )


def termination_request_filed(request, *, now: dt.datetime) -> int:
    """A written termination request was recorded (portal or letter)."""
    agreement = request.agreement
    return emit(
        Event.TERMINATION_REQUEST_FILED,
        lambda: {
            "termination_request": {
                "id": request.pk,
                "received_at": request.received_at.isoformat(),
                "channel": request.channel,
                "timely": request.timely,
                "notice_deadline": _date(request.notice_deadline),
                "last_day": _date(request.last_day),
                "renews_on": _date(request.renews_on),
            },
            "agreement": _agreement(agreement),
            "customer": _customer(agreement.customer),
        },
        event_id=f"termination_request.filed.{request.pk}",
        now=now,
    )


def emergency_breached(request, *, now: dt.datetime) -> int:
    """An emergency request's guaranteed response time passed (the every-minute job) or it was
    acknowledged late: one event per request, whichever of the two records it first."""
    if request.outcome != "breached":
        return 0
    return emit(
        Event.EMERGENCY_BREACHED,
        lambda: {
            "emergency_request": {
                "id": request.pk,
                "received_at": request.received_at.isoformat(),
                "due_at": _date(request.due_at),
                "guarantee": request.tier_name,
                "response_minutes": request.response_minutes,
                "status": request.status,
            },
            "agreement": (
                {"id": request.agreement_id, "number": request.agreement.number}
                if request.agreement_id
                else None
            ),
            "customer": _customer(request.customer),
        },
        event_id=f"emergency.breached.{request.pk}",
        now=now,
    )
