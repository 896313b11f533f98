"""The admins' settings pages for what agreements are written on (issue 13):

- /settings/terms/: the terms and conditions versions. "New version" starts a draft as a copy of
  the latest body; a draft is edited, previewed as the agreement document shows it, then
  published (offered to new agreements). Published or used versions never change.
- /settings/response-tiers/: the Emergency Support guarantees. A tier named by a sent agreement
  keeps its guarantee (the fields are read-only); any tier can be deactivated; only an unused one
  is deleted.

The rules are model methods (``TermsTemplate.revise/publish/remove``, ``ResponseTier.
locked_fields/set_active/remove``); these views parse, call and render.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from allora.tenancy import admin_required

from .forms import ResponseTierForm, TermsTemplateForm
from .models import ResponseTier, TermsTemplate

# Terms and conditions versions ---------------------------------------------------------------


@admin_required
def terms_list(request):
    # One query: the versions with how many agreements each was written on.
    versions = TermsTemplate.with_usage().order_by("-version")
    return render(request, "agreements/settings/terms_list.html", {"versions": versions})


@admin_required
def terms_create(request):
    latest = TermsTemplate.latest()
    initial = {"title": latest.title, "body": latest.body} if latest else {}
    form = TermsTemplateForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        terms = TermsTemplate.add_version(
            title=form.cleaned_data["title"], body=form.cleaned_data["body"]
        )
        messages.success(
            request,
            f"Draft terms v{terms.version} added. Check the preview, then publish it to offer "
            "it to new agreements.",
        )
        return redirect("agreements:terms_detail", pk=terms.pk)
    return render(
        request,
        "agreements/settings/terms_form.html",
        {"form": form, "copied_from": latest, "next_version": TermsTemplate.next_version()},
    )


@admin_required
def terms_detail(request, pk):
    terms = get_object_or_404(TermsTemplate.with_usage(), pk=pk)
    return render(
        request,
        "agreements/settings/terms_detail.html",
        {"terms": terms, "sections": terms.sections(), "frozen_reason": terms.frozen_reason()},
    )


def _refuse_frozen(request, terms) -> bool:
    """Tell the admin why ``terms`` cannot change (True), or let the draft be changed."""
    reason = terms.frozen_reason()
    if reason:
        messages.error(request, reason)
    return bool(reason)


@admin_required
def terms_edit(request, pk):
    terms = get_object_or_404(TermsTemplate, pk=pk)
    if _refuse_frozen(request, terms):
        return redirect("agreements:terms_detail", pk=terms.pk)
    form = TermsTemplateForm(request.POST or None, instance=terms)
    if request.method == "POST" and form.is_valid():
        try:
            terms.revise(title=form.cleaned_data["title"], body=form.cleaned_data["body"])
        except ValidationError as error:  # published by someone else meanwhile
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"Draft terms v{terms.version} saved.")
        return redirect("agreements:terms_detail", pk=terms.pk)
    return render(request, "agreements/settings/terms_form.html", {"form": form, "terms": terms})


@admin_required
def terms_publish(request, pk):
    terms = get_object_or_404(TermsTemplate, pk=pk)
    if terms.published_at is not None:
        messages.warning(request, f"Terms v{terms.version} are already published.")
        return redirect("agreements:terms_detail", pk=terms.pk)
    if request.method == "POST":
        if terms.publish(now=timezone.now()):
            messages.success(
                request,
                f"Terms v{terms.version} published: new agreements are offered them (the newest "
                "version first). Agreements already drafted, sent or signed keep their terms.",
            )
        else:
            messages.warning(request, f"Terms v{terms.version} were already published.")
        return redirect("agreements:terms_detail", pk=terms.pk)
    return render(
        request,
        "allora/confirm.html",
        {
            "title": f"Publish terms v{terms.version}?",
            "body": f"“{terms.title}” v{terms.version} will be offered to every new agreement "
            "and can never be edited or deleted again. Agreements already drafted, sent or "
            "signed keep their terms.",
            "confirm_label": "Publish",
            "cancel_url": reverse("agreements:terms_detail", args=[terms.pk]),
        },
    )


@admin_required
def terms_delete(request, pk):
    terms = get_object_or_404(TermsTemplate, pk=pk)
    if _refuse_frozen(request, terms):
        return redirect("agreements:terms_detail", pk=terms.pk)
    if request.method == "POST":
        try:
            terms.remove()
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect("agreements:terms_detail", pk=terms.pk)
        messages.success(request, f"Draft terms v{terms.version} deleted.")
        return redirect("agreements:terms_list")
    return render(
        request,
        "allora/confirm.html",
        {
            "title": f"Delete the draft terms v{terms.version}?",
            "body": "The draft was never published and no agreement uses it. Its text is lost.",
            "confirm_label": "Delete",
            "cancel_url": reverse("agreements:terms_detail", args=[terms.pk]),
        },
    )


# Response tiers --------------------------------------------------------------------------------


@admin_required
def tier_list(request):
    # One query: the tiers with whether sent agreements, or any line, name them.
    tiers = ResponseTier.with_usage().order_by("-is_active", "response_minutes", "name")
    return render(request, "agreements/settings/tier_list.html", {"tiers": tiers})


@admin_required
def tier_create(request):
    form = ResponseTierForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        tier = form.save()
        messages.success(request, f"Response tier “{tier.name}” added.")
        return redirect("agreements:tier_list")
    return render(request, "agreements/settings/tier_form.html", {"form": form})


@admin_required
def tier_edit(request, pk):
    tier = get_object_or_404(ResponseTier, pk=pk)
    form = ResponseTierForm(request.POST or None, instance=tier)
    if request.method == "POST" and form.is_valid():
        try:
            tier = form.save()
        except ValidationError as error:  # a sent agreement named it meanwhile
            messages.error(request, " ".join(error.messages))
            return redirect("agreements:tier_edit", pk=pk)
        messages.success(request, f"Response tier “{tier.name}” saved.")
        return redirect("agreements:tier_list")
    return render(
        request,
        "agreements/settings/tier_form.html",
        {"form": form, "tier": tier, "lock_reason": tier.lock_reason()},
    )


@admin_required
@require_POST
def tier_toggle(request, pk):
    tier = get_object_or_404(ResponseTier, pk=pk)
    tier.set_active(not tier.is_active)
    messages.success(
        request,
        f"“{tier.name}” is offered to new agreements again."
        if tier.is_active
        else f"“{tier.name}” is deactivated: new agreements no longer offer it; agreements "
        "that name it keep it.",
    )
    return redirect("agreements:tier_list")


@admin_required
def tier_delete(request, pk):
    tier = get_object_or_404(ResponseTier, pk=pk)
    if request.method == "POST":
        try:
            tier.remove()
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"Response tier “{tier.name}” deleted.")
        return redirect("agreements:tier_list")
    if reason := tier.deletion_refusal():
        messages.error(request, reason)
        return redirect("agreements:tier_list")
    return render(
        request,
        "allora/confirm.html",
        {
            "title": f"Delete the response tier “{tier.name}”?",
            "body": "No agreement names it. It disappears from the choices of new agreements.",
            "confirm_label": "Delete",
            "cancel_url": reverse("agreements:tier_list"),
        },
    )
