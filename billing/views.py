from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from allora.history import timeline
from allora.tenancy import admin_required, staff_required
from allora.timeutils import local_today

from .forms import PublishForm, RateCardForm, RateCardLineFormSet
from .models import DiscountPolicy, RateCard, RateCardLine

DRAFT_EXISTS = "A draft rate card already exists: edit or publish it first."


@staff_required
def ratecard_list(request):
    today = local_today()
    return render(
        request,
        "billing/ratecard_list.html",
        {
            "cards": RateCard.objects.select_related("published_by"),
            "current": RateCard.objects.current(on=today),
            "discounts": DiscountPolicy.objects.all(),
        },
    )


@admin_required
def ratecard_create(request):
    form = RateCardForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        card = form.save(commit=False)
        card.created_by = request.user
        card.version = RateCard.next_version()
        try:
            with transaction.atomic():
                card.save()
        except IntegrityError:
            form.add_error(None, DRAFT_EXISTS)
        else:
            messages.success(request, f"Draft {card} created. Add its rates.")
            return redirect("billing:ratecard_edit", pk=card.pk)
    return render(request, "billing/ratecard_form.html", {"form": form})


@staff_required
def ratecard_detail(request, pk):
    card = get_object_or_404(RateCard.objects.select_related("published_by", "created_by"), pk=pk)
    history = timeline(
        (card.history.all(), lambda record: "Card"),
        (
            RateCardLine.history.filter(card_id=card.pk),
            lambda record: f"Rate {record.name}",
        ),
    )
    return render(
        request,
        "billing/ratecard_detail.html",
        {
            "card": card,
            "lines": card.lines.all(),
            "history": history,
            "publish_form": PublishForm(initial={"effective_date": local_today()}),
        },
    )


@admin_required
def ratecard_edit(request, pk):
    card = get_object_or_404(RateCard, pk=pk)
    if not card.is_draft:
        messages.error(request, "A published rate card cannot be changed; start a new version.")
        return redirect("billing:ratecard_detail", pk=card.pk)
    form = RateCardForm(request.POST or None, instance=card)
    formset = RateCardLineFormSet(request.POST or None, instance=card)
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        with transaction.atomic():
            form.save()
            formset.save()
        messages.success(request, "Rates saved.")
        return redirect("billing:ratecard_detail", pk=card.pk)
    return render(
        request, "billing/ratecard_edit.html", {"card": card, "form": form, "formset": formset}
    )


@admin_required
def ratecard_publish(request, pk):
    card = get_object_or_404(RateCard, pk=pk)
    form = PublishForm(request.POST or None, initial={"effective_date": local_today()})
    if request.method == "POST" and form.is_valid():
        try:
            card.publish(
                by=request.user,
                effective_date=form.cleaned_data["effective_date"],
                today=local_today(),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request, f"{card} published, in effect from {card.effective_date:%B %-d, %Y}."
            )
            return redirect("billing:ratecard_detail", pk=card.pk)
    return render(request, "billing/ratecard_publish.html", {"card": card, "form": form})


@admin_required
@require_POST
def ratecard_new_version(request, pk):
    card = get_object_or_404(RateCard, pk=pk)
    try:
        draft = card.start_new_version(by=request.user)
    except (ValidationError, IntegrityError):
        messages.error(request, DRAFT_EXISTS)
        return redirect("billing:ratecard_detail", pk=card.pk)
    messages.success(request, f"Draft {draft} created from {card}.")
    return redirect("billing:ratecard_edit", pk=draft.pk)
