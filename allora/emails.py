"""Emails from templates: ``templates/emails/<name>_subject.txt``, ``_body.txt`` and, where the
text is not enough, ``_body.html`` (otherwise the text is sent as simple HTML too)."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string

from allora.models import CompanyProfile, Role


def signature(company) -> str:
    """The signature under every email: Allora's name and how to reach it (*Settings →
    Company*); empty until a phone, email or website is set (the bodies end with the name)."""
    reach = [item for item in (company.phone, company.email, company.website) if item]
    return "\n".join(["-- ", company.legal_name, *reach]) if reach else ""


def build_email(name, *, to, context, attachments=()):
    """An email with a text and an HTML body rendered from the named templates, signed with
    Allora's details."""
    company = CompanyProfile.current()
    context = {"site_url": settings.SITE_URL, "company": company, **context}
    subject = " ".join(render_to_string(f"emails/{name}_subject.txt", context).split())
    body = render_to_string(f"emails/{name}_body.txt", context)
    if footer := signature(company):
        body = f"{body.rstrip()}\n\n{footer}\n"
    message = EmailMultiAlternatives(
        subject=subject,
        body=body,
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
        html = render_to_string(f"emails/{name}_body.html", context)
    except TemplateDoesNotExist:
        return render_to_string("emails/_text_as_html.html", {**context, "text": text})
    if footer := signature(context["company"]):
        html += render_to_string("emails/_text_as_html.html", {"text": footer})
    return html


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
