"""Emails from templates: ``templates/emails/<name>_subject.txt``, ``_body.txt``, ``_body.html``."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string


def build_email(name, *, to, context, attachments=()):
    """An email with a text and an HTML body rendered from the named templates."""
    context = {"site_url": settings.SITE_URL, **context}
    subject = " ".join(render_to_string(f"emails/{name}_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"emails/{name}_body.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=list(to),
    )
    message.attach_alternative(render_to_string(f"emails/{name}_body.html", context), "text/html")
    for filename, content, mimetype in attachments:
        message.attach(filename, content, mimetype)
    return message


def send_after_commit(name, *, to, context, attachments=()):
    """Send once the surrounding transaction commits, so a rollback sends nothing."""
    recipients = [address for address in to if address]
    if not recipients:
        return
    message = build_email(name, to=recipients, context=context, attachments=attachments)
    transaction.on_commit(message.send)
