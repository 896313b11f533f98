"""The customer's home page and their company's contacts."""

from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from agreements.models import Contact
from allora.tenancy import portal_required
from allora.timeutils import local_today
from billing.credits import customer_with_credit


@portal_required
def home(request):
    """The customer's home: what waits for them (allora/queues.py); next visits, open requests,
    projects awaiting approval, latest invoices, term ends and notice deadlines, contacts
    (allora/dashboard.py)."""
    from allora import dashboard, queues  # they read every app

    context = dashboard.portal_dashboard(request.user, today=local_today(), now=timezone.now())
    context["queue"] = queues.portal_queue(
        request.user,
        signer=context["is_signer"],
        approver=context["is_approver"],
        projects=context["projects"],
    )
    # The company and its credit in one query; the layout names the company too.
    request.user.customer = context["customer"] = customer_with_credit(request.user.customer_id)
    context["credit"] = context["customer"].credit
    return render(request, "portal/home.html", context)


@portal_required
def contact(request, pk):
    contact = get_object_or_404(Contact.objects.for_user(request.user), pk=pk)
    return render(request, "portal/contact.html", {"contact": contact})
