"""Receivables in templates: an invoice's payment reminders (its timeline's reminder events)."""

from django import template

from billing.models import InvoiceEvent

register = template.Library()


@register.simple_tag
def invoice_reminders(invoice):
    """The reminders sent for an invoice, oldest first (one query)."""
    return list(invoice.events.filter(kind=InvoiceEvent.Kind.REMINDER).order_by("at", "id"))
