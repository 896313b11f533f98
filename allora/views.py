from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from billing.models import RateCard

from . import dashboard, queues, search, second_factor, snapshots, throttle
from .clientip import client_ip
from .forms import ApiTokenForm, CompanyProfileForm, PasswordResetForm, SearchForm
from .models import ApiToken, CompanyProfile
from .tenancy import admin_required, public, signed_in, staff_required
from .timeutils import local_today
from .tokens import invitation_token_generator
from .views_signin import safe_next


@signed_in
def home(request):
    """Send each person to the home of their role."""
    if request.user.is_customer_user:
        return redirect("portal:home")
    return redirect("staff_home")


@public
def healthz(request):
    """Liveness for the load balancer: the app answers and the database responds."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@staff_required
def global_search(request):
    """The staff search page (``?q=…``), or its results alone for the menu box's live list."""
    form = SearchForm(request.GET if "q" in request.GET else None)
    groups = search.search(form.cleaned_data["q"]) if form.is_valid() else None
    if request.htmx:
        # Nothing (the live list closes) until the text is long enough.
        if groups is None:
            return HttpResponse("")
        return render(request, "allora/_search_results.html", {"form": form, "groups": groups})
    return render(request, "allora/search.html", {"form": form, "groups": groups})


@staff_required
def staff_home(request):
    """The staff dashboard: what waits for this person (allora/queues.py); renewals,
    terminations, emergencies, SLA, revenue, utilization, overdue invoices, billing problems
    (allora/dashboard.py); the rate card and worker status."""
    today, now = local_today(), timezone.now()
    figures = snapshots.staff_figures(today=today, now=now, tz=timezone.get_current_timezone())
    panels = dashboard.staff_dashboard(today=today, now=now, figures=figures)
    context = {
        **panels,
        "queue": queues.staff_queue(
            request.user,
            today=today,
            now=now,
            problems=panels["billing_problems"],
            clashing=panels["clashing_visits"],
            emergencies=panels["emergencies"],
            terminations=panels["terminations"],
        ),
        "current_card": RateCard.objects.current(on=today),
    }
    return render(request, "allora/staff_home.html", context)


@staff_required
@require_POST
def refresh_staff_figures(request):
    """The staff home's "Refresh" button: its stored figures computed now (allora/snapshots.py)."""
    snapshots.refresh_staff_figures_now()
    messages.success(request, "The figures are up to date.")
    return redirect("staff_home")


class PasswordResetView(auth_views.PasswordResetView):
    form_class = PasswordResetForm
    email_template_name = "emails/password_reset_body.txt"
    html_email_template_name = "emails/password_reset_body.html"
    subject_template_name = "emails/password_reset_subject.txt"

    def form_valid(self, form):
        """Past the hourly limit (per address and per client), nothing is sent, and the page
        says the same as always, so it tells nobody whether the address exists."""
        allowed = throttle.allow_password_reset(
            email=form.cleaned_data["email"], ip=client_ip(self.request)
        )
        if not allowed:
            return redirect(self.get_success_url())
        return super().form_valid(form)


INVITATION_NEXT = "invitation_next"


class InvitationAcceptView(auth_views.PasswordResetConfirmView):
    """An invited person chooses a password and is signed in, then goes straight on to the page
    the invitation was for (``?next=``, e.g. the agreement to sign; their home otherwise).

    Django first swaps the token in the address for a placeholder (a redirect that drops the
    query string), so ``next`` waits in the session meanwhile. Staff who must use a second factor
    are taken to set it up by the SecondFactorMiddleware before anything else."""

    token_generator = invitation_token_generator
    post_reset_login = True
    post_reset_login_backend = "allora.sessions.UserBackend"

    def dispatch(self, *args, **kwargs):
        if target := safe_next(self.request, self.request.GET.get("next", "")):
            self.request.session[INVITATION_NEXT] = target
        return super().dispatch(*args, **kwargs)

    def get_success_url(self):
        target = safe_next(self.request, self.request.session.pop(INVITATION_NEXT, ""))
        return target or reverse(settings.LOGIN_REDIRECT_URL)

    def form_valid(self, form):
        # Signing in keeps the session's data (it only changes its key): `next` is still there.
        messages.success(self.request, "Your password is saved and you are signed in.")
        return super().form_valid(form)


# Profile and personal API tokens ------------------------------------------------------------


@signed_in
def profile(request):
    """The signed-in person's profile: their second factor and their API tokens (create, see,
    revoke)."""
    form = ApiTokenForm(request.POST or None)
    new_secret = None
    if request.method == "POST" and form.is_valid():
        _token, new_secret = ApiToken.issue(request.user, name=form.cleaned_data["name"])
        form = ApiTokenForm()
    return render(
        request,
        "allora/profile.html",
        {
            "form": form,
            "tokens": request.user.api_tokens.all(),
            "new_secret": new_secret,
            "api_docs_url": reverse("api:openapi-view"),
            "has_second_factor": second_factor.has_second_factor(request.user),
            "second_factor_required": second_factor.required_for(request.user),
        },
    )


@signed_in
def api_token_revoke(request, pk):
    token = get_object_or_404(request.user.api_tokens.filter(revoked_at__isnull=True), pk=pk)
    if request.method == "POST":
        token.revoke(now=timezone.now())
        messages.success(request, f"The token “{token.name}” is revoked; it no longer works.")
        return redirect("profile")
    return render(
        request,
        "allora/confirm.html",
        {
            "title": f"Revoke the API token “{token.name}”?",
            "body": f"Programs using {token.prefix}… get “401 Unauthorized” from now on. "
            "This cannot be undone; create a new token if you need one.",
            "confirm_label": "Revoke the token",
            "cancel_url": reverse("profile"),
        },
    )


@admin_required
def company_settings(request):
    """*Settings → Company*: Allora's details on every agreement sent from now on, every
    invoice, statement and email, and the numbers customers are told to call."""
    profile = CompanyProfile.current()
    form = CompanyProfileForm(request.POST or None, request.FILES or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        profile = form.save(commit=False)
        profile.pk, profile.updated_by = 1, request.user
        profile.save()
        messages.success(
            request,
            "Company details saved. Invoices and statements use them from now on, and "
            "agreements sent from now on name them; agreements already sent keep theirs.",
        )
        return redirect("company_settings")
    return render(request, "allora/company_settings.html", {"form": form, "profile": profile})
