from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from allora.history import timeline
from allora.tenancy import portal_required, staff_required

from . import services
from .forms import ContactForm, CustomerForm
from .models import Contact, Customer


@staff_required
def customer_list(request):
    customers = Customer.objects.annotate(contact_count=Count("contacts")).order_by("legal_name")
    query = request.GET.get("q", "").strip()
    status = request.GET.get("status", "")
    if query:
        customers = customers.filter(Q(legal_name__icontains=query) | Q(city__icontains=query))
    if status in Customer.Status.values:
        customers = customers.filter(status=status)
    page = Paginator(customers, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "agreements/customer_list.html",
        {"page": page, "query": query, "status": status, "statuses": Customer.Status.choices},
    )


@staff_required
def customer_create(request):
    form = CustomerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        customer = form.save()
        messages.success(request, f"Customer {customer} created. Add its contacts next.")
        return redirect("agreements:customer_detail", pk=customer.pk)
    return render(request, "agreements/customer_form.html", {"form": form})


@staff_required
def customer_detail(request, pk):
    customer = get_object_or_404(Customer, pk=pk)
    contacts = customer.contacts.select_related("user")
    history = timeline(
        (customer.history.all(), lambda record: "Customer"),
        (
            Contact.history.filter(customer_id=customer.pk),
            lambda record: f"Contact {record.name}",
        ),
    )
    return render(
        request,
        "agreements/customer_detail.html",
        {"customer": customer, "contacts": contacts, "history": history},
    )


@staff_required
def customer_edit(request, pk):
    customer = get_object_or_404(Customer, pk=pk)
    form = CustomerForm(request.POST or None, instance=customer)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Customer saved.")
        return redirect("agreements:customer_detail", pk=customer.pk)
    return render(request, "agreements/customer_form.html", {"form": form, "customer": customer})


@staff_required
def contact_create(request, customer_pk):
    customer = get_object_or_404(Customer, pk=customer_pk)
    form = ContactForm(request.POST or None, customer=customer)
    if request.method == "POST" and form.is_valid():
        contact = form.save()
        messages.success(request, f"Contact {contact.name} added.")
        return redirect("agreements:customer_detail", pk=customer.pk)
    return render(request, "agreements/contact_form.html", {"form": form, "customer": customer})


@staff_required
def contact_edit(request, pk):
    contact = get_object_or_404(Contact.objects.select_related("customer", "user"), pk=pk)
    form = ContactForm(request.POST or None, instance=contact, customer=contact.customer)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Contact {contact.name} saved.")
        return redirect("agreements:customer_detail", pk=contact.customer_id)
    return render(
        request,
        "agreements/contact_form.html",
        {"form": form, "customer": contact.customer, "contact": contact},
    )


@staff_required
@require_POST
def contact_invite(request, pk):
    contact = get_object_or_404(Contact, pk=pk)
    try:
        user = services.invite_contact(contact, invited_by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Invitation sent to {user.email}.")
    return redirect("agreements:customer_detail", pk=contact.customer_id)


@staff_required
def contact_revoke(request, pk):
    contact = get_object_or_404(Contact.objects.select_related("customer"), pk=pk)
    if request.method == "POST":
        services.revoke_portal_access(contact)
        messages.success(request, f"{contact.name} can no longer sign in to the portal.")
        return redirect("agreements:customer_detail", pk=contact.customer_id)
    return render(
        request,
        "allora/confirm.html",
        {
            "title": f"Revoke portal access for {contact.name}?",
            "body": "They will no longer be able to sign in. Their history is kept, and you can "
            "invite them again later.",
            "confirm_label": "Revoke access",
            "cancel_url": reverse("agreements:customer_detail", args=[contact.customer_id]),
        },
    )


@portal_required
def portal_home(request):
    customer = request.user.customer
    contacts = Contact.objects.for_user(request.user)
    return render(request, "portal/home.html", {"customer": customer, "contacts": contacts})


@portal_required
def portal_contact(request, pk):
    contact = get_object_or_404(Contact.objects.for_user(request.user), pk=pk)
    return render(request, "portal/contact.html", {"contact": contact})
