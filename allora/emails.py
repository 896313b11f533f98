"""Emails from templates: ``templates/emails/<name>_subject.txt``, ``_body.txt`` and, where the
text is not enough, ``_body.html`` (otherwise the text is sent as simple HTML too)."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string

from allora.models import Role


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
    message.attach_alternative(_html_body(name, context, text=message.body), "text/html")
    for filename, content, mimetype in attachments:
        message.attach(filename, content, mimetype)
    return message


def _html_body(name, context, *, text):
    """The HTML template when there is one, else the text body laid out as simple HTML."""
    try:
        return render_to_string(f"emails/{name}_body.html", context)
    except TemplateDoesNotExist:
        return render_to_string("emails/_text_as_html.html", {**context, "text": text})


def send_after_commit(name, *, to, context, attachments=()):
    """Send once the surrounding transaction commits, so a rollback sends nothing."""
    recipients = [address for address in to if address]
    if not recipients:
        return
    message = build_email(name, to=recipients, context=context, attachments=attachments)
    transaction.on_commit(message.send)


def staff_emails(*, roles=(Role.ADMIN, Role.STAFF), excluding=None) -> list[str]:
    """The addresses of the active users with these roles (Allora's staff and admins unless
    told otherwise), but ``excluding`` (a user who already knows), in one query."""
    users = get_user_model().objects.filter(role__in=roles, is_active=True)
    if excluding is not None:
        users = users.exclude(pk=excluding.pk)
    return list(users.values_list("email", flat=True))
