from django.contrib.auth import views as auth_views
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render

from agreements.models import Contact, Customer
from billing.models import RateCard

from .forms import PasswordResetForm
from .models import Heartbeat
from .tenancy import public, signed_in, staff_required
from .timeutils import local_today


@signed_in
def home(request):
    """Send each person to the home of their role."""
    if request.user.is_customer_user:
        return redirect("agreements:portal_home")
    return redirect("staff_home")


@public
def healthz(request):
    """Liveness for the load balancer: the app answers and the database responds."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@staff_required
def staff_home(request):
    context = {
        "customer_count": Customer.objects.count(),
        "contact_count": Contact.objects.count(),
        "current_card": RateCard.objects.current(on=local_today()),
        "draft_card": RateCard.objects.filter(status=RateCard.Status.DRAFT).first(),
        "heartbeat": Heartbeat.objects.filter(name="worker").first(),
    }
    return render(request, "allora/staff_home.html", context)


class PasswordResetView(auth_views.PasswordResetView):
    form_class = PasswordResetForm
    email_template_name = "emails/password_reset_body.txt"
    html_email_template_name = "emails/password_reset_body.html"
    subject_template_name = "emails/password_reset_subject.txt"
