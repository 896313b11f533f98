import pytest
from django.core import mail
from django.urls import reverse

from agreements.models import Contact, Customer
from agreements.tests.factories import ContactFactory, CustomerFactory
from allora.models import Role, User

CUSTOMER_FORM = {
    "legal_name": "Five Points Bakery, LLC",
    "address_line1": "1800 Glenwood Avenue",
    "city": "Raleigh",
    "state": "nc",
    "postal_code": "27608",
    "phone": "(919) 555-0199",
    "time_zone": "America/New_York",
    "status": "active",
}


def test_staff_creates_a_customer_and_history_records_who(client_for, staff):
    response = client_for(staff).post(reverse("agreements:customer_create"), CUSTOMER_FORM)
    customer = Customer.objects.get(legal_name="Five Points Bakery, LLC")
    assert response.status_code == 302
    assert customer.state == "NC"
    assert customer.history.get().history_user == staff


def test_unknown_time_zone_is_a_form_error_and_nothing_is_saved(client_for, staff):
    data = {**CUSTOMER_FORM, "time_zone": "Mars/Olympus_Mons"}
    response = client_for(staff).post(reverse("agreements:customer_create"), data)
    assert response.status_code == 200
    assert "is not a known time zone" in response.content.decode()
    assert not Customer.objects.exists()


def test_customer_edit_shows_the_change_in_history(client_for, staff, customer_a):
    data = {**CUSTOMER_FORM, "legal_name": customer_a.legal_name, "phone": "(919) 555-0000"}
    client_for(staff).post(reverse("agreements:customer_edit", args=[customer_a.pk]), data)
    page = client_for(staff).get(reverse("agreements:customer_detail", args=[customer_a.pk]))
    assert "phone: (919) 555-0100 → (919) 555-0000" in page.content.decode()


def test_customer_list_uses_a_constant_number_of_queries(
    client_for, staff, django_assert_num_queries
):
    CustomerFactory.create_batch(30)
    client = client_for(staff)
    # the session with its user, count for the paginator, the page of customers with contact
    # counts
    with django_assert_num_queries(3):
        response = client.get(reverse("agreements:customer_list"))
    assert len(response.context["page"].object_list) == 25


def test_customer_list_filters_by_search(client_for, staff):
    CustomerFactory(legal_name="Wake Forest Vets")
    CustomerFactory(legal_name="Cary Printing")
    response = client_for(staff).get(reverse("agreements:customer_list"), {"q": "vets"})
    assert [c.legal_name for c in response.context["page"]] == ["Wake Forest Vets"]


def test_contact_email_used_twice_at_one_customer_is_refused(client_for, staff, customer_a):
    ContactFactory(customer=customer_a, email="pat@oakcity.example")
    response = client_for(staff).post(
        reverse("agreements:contact_create", args=[customer_a.pk]),
        {"name": "Pat Two", "email": "PAT@oakcity.example"},
    )
    assert "Another contact of this customer has this email." in response.content.decode()
    assert customer_a.contacts.count() == 1


def test_invite_creates_a_portal_user_and_emails_a_set_password_link(
    client_for, staff, customer_a, django_capture_on_commit_callbacks
):
    contact = ContactFactory(customer=customer_a, name="Karen Liu", email="karen@oakcity.example")
    with django_capture_on_commit_callbacks(execute=True):
        client_for(staff).post(reverse("agreements:contact_invite", args=[contact.pk]))
    contact.refresh_from_db()
    user = contact.user
    assert user.role == Role.CUSTOMER and user.customer == customer_a
    assert not user.has_usable_password()
    assert contact.has_portal_access
    [email] = mail.outbox
    assert email.to == ["karen@oakcity.example"]
    assert "/accounts/reset/" in email.body
    assert email.alternatives[0][1] == "text/html"

    # The link works: the contact chooses a password and lands on their portal home.
    link = next(word for word in email.body.split() if "/accounts/reset/" in word)
    client = client_for(None)
    form_page = client.get(link.replace("http://127.0.0.1:8000", ""), follow=True)
    assert form_page.context["validlink"]
    client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "Blue-Heron-2027!", "new_password2": "Blue-Heron-2027!"},
    )
    signed_in = client.post(
        reverse("login"), {"username": "karen@oakcity.example", "password": "Blue-Heron-2027!"}
    )
    assert signed_in.status_code == 302
    assert client.get(reverse("home"), follow=True).context["customer"] == customer_a


def test_invite_with_an_email_of_another_user_is_refused(client_for, staff, customer_a):
    User.objects.create_user("taken@example.com", role=Role.STAFF)
    contact = ContactFactory(customer=customer_a, email="taken@example.com")
    response = client_for(staff).post(
        reverse("agreements:contact_invite", args=[contact.pk]), follow=True
    )
    assert "already belongs to another user" in response.content.decode()
    contact.refresh_from_db()
    assert contact.user is None and not contact.has_portal_access


def test_revoke_needs_confirmation_then_blocks_sign_in(client_for, staff, alice):
    contact = Contact.objects.get(user=alice)
    url = reverse("agreements:contact_revoke", args=[contact.pk])
    confirm = client_for(staff).get(url)
    assert "Revoke portal access" in confirm.content.decode()
    alice.refresh_from_db()
    assert alice.is_active
    client_for(staff).post(url)
    alice.refresh_from_db()
    assert not alice.is_active


@pytest.mark.parametrize("role", [Role.CUSTOMER])
def test_a_customer_user_without_a_customer_cannot_exist(db, role):
    from django.db import IntegrityError

    with pytest.raises(IntegrityError):
        User.objects.create_user("orphan@example.com", role=role)
