import factory

from agreements.models import Contact, Customer


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer
        django_get_or_create = ("legal_name",)

    legal_name = factory.Sequence(lambda n: f"Customer {n}, LLC")
    address_line1 = factory.Sequence(lambda n: f"{100 + n} Hillsborough Street")
    postal_code = "27603"
    phone = "(919) 555-0100"
    status = Customer.Status.ACTIVE


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    customer = factory.SubFactory(CustomerFactory)
    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"contact{n}@example.com")
