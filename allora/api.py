"""The REST API under /api/v1/ (django-ninja): authentication, errors, pagination and the
helpers every app's router uses (``agreements/api.py``, ``scheduling/api.py``, ``delivery/api.py``,
``billing/api.py``).

Who may call: a personal API token (``Authorization: Bearer alr_…``, created in the profile page)
or the browser's session (with the CSRF token for unsafe methods). Scoping is the pages' own:
the models' ``for_user(user)`` querysets; another customer's object is a 404.

Errors are JSON and name the field: ``{"detail": [{"loc": ["body", "legal_name"], "msg": "…",
"type": "…"}]}`` (422 for input that does not validate, 400 for a request the rules refuse),
``{"detail": "…"}`` for 401, 403, 404 and 409.
"""

import functools
from decimal import Decimal
from typing import Annotated, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.utils import timezone
from ninja import Field, NinjaAPI, Path, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.openapi.docs import DocsBase
from ninja.pagination import PageNumberPagination, paginate
from ninja.security import HttpBearer
from ninja.security.apikey import APIKeyCookie
from ninja.utils import check_csrf
from pydantic import ConfigDict, PlainSerializer

from allora.validation import MAX_ID, NoNulText

from . import second_factor
from .models import ApiToken

ObjectId = Annotated[int, Path(ge=1, le=MAX_ID)]
QueryId = Annotated[int, Field(ge=1, le=MAX_ID)]


def money_str(amount) -> str | None:
    """Money out, as a string: "150.00" (money in is allora.validation.Money)."""
    return None if amount is None else f"{Decimal(amount):.2f}"


# A Decimal shown as a string with two decimals in responses (and in the schema).
MoneyOut = Annotated[Decimal, PlainSerializer(money_str, return_type=str)]


class Input(Schema, NoNulText):
    """Base of every request body: unknown fields are an error, and text may hold no NUL."""

    model_config = ConfigDict(extra="forbid")


class Filters(Schema, NoNulText):
    """Base of query-string filters (other query parameters, e.g. the page, pass through)."""


# The count of a list stops here, as the pages' visit list does: counting 186,000 visits took
# longer than the rest of the request, and even 10,000 took 2 ms (issue 14). Up to it the count
# is exact; beyond it ``count_capped`` says there are more.
COUNT_LIMIT = 1_000


class Pagination(PageNumberPagination):
    """?page=1&page_size=25 (at most 100 per page); the answer carries the count, exact up to
    1,000 (``count_capped`` is true when there are more)."""

    class Input(Schema):
        page: int = Field(1, ge=1, le=1_000_000)
        page_size: int = Field(25, ge=1, le=100)

    class Output(Schema):
        items: list[Any]
        count: int = Field(description="How many there are, counted up to 1,000.")
        count_capped: bool = Field(
            description="True when there are more than 1,000 (count then says 1,000): "
            "ask for the next pages until one is short."
        )

    def paginate_queryset(self, queryset, pagination, request, **params):
        rows = queryset if isinstance(queryset, Rows) else Rows(queryset, list)
        size = pagination.page_size
        offset = (pagination.page - 1) * size
        page = list(rows.queryset[offset : offset + size])
        count, capped = list_count(rows.queryset, offset=offset, found=len(page), size=size)
        return {"items": rows.build(page), "count": count, "count_capped": capped}


def list_count(queryset, *, offset: int, found: int, size: int) -> tuple[int, bool]:
    """(count, capped): a short page is the last one and tells the count without a query;
    else the rows are counted up to COUNT_LIMIT."""
    if 0 < found < size or (found == 0 and offset == 0):
        return offset + found, False
    counted = queryset.order_by().values("pk")[: COUNT_LIMIT + 1].count()
    return min(counted, COUNT_LIMIT), counted > COUNT_LIMIT


class Rows:
    """What a list view returns for ``paginate_rows``: its queryset, and the function that turns
    a page of it into the response's items as plain data, shaped exactly like the item schema
    (``money_str`` for money, dates and datetimes as they are)."""

    def __init__(self, queryset, build):
        self.queryset = queryset
        self.build = build


def paginate_rows(func):
    """``@paginate(Pagination)`` for a list whose view returns ``Rows``: the page's items are
    built by hand and rendered as they are, without ninja validating every field of every row
    through its schema again, which was most of a 100-row list's time (issue 14). The response
    schema (OpenAPI) stays the declared one; tests check each list's items equal the schema's
    output for the same objects."""
    paginated = paginate(Pagination)(func)

    @functools.wraps(paginated)
    def view(request, **kwargs):
        return api.create_response(request, paginated(request, **kwargs), status=200)

    return view


class Message(Schema):
    detail: str


ERRORS = {401: Message, 403: Message, 404: Message}


# Authentication --------------------------------------------------------------------------


class TokenAuth(HttpBearer):
    """A personal API token. A token that is wrong or revoked is a 401, never a fallback to
    the session."""

    def authenticate(self, request, token):
        user = ApiToken.user_for(token, now=timezone.now())
        if user is None:
            raise AuthenticationError(401, "Invalid or revoked API token")
        request.user = user  # so the history of changed records names the token's owner
        return user


class SessionAuth(APIKeyCookie):
    """The browser's signed-in session, once it has confirmed any second factor it owes;
    unsafe methods need the CSRF token (X-CSRFToken)."""

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request):
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request, key):
        user = request.user
        if not (user.is_authenticated and user.is_active):
            return None
        if second_factor.needs_verification(request):
            raise HttpError(403, "Confirm your second factor in the browser first")
        if request.method not in ("GET", "HEAD", "OPTIONS", "TRACE") and check_csrf(request):
            raise HttpError(403, "CSRF check failed: send the X-CSRFToken header")
        return user


def current_user(request: HttpRequest):
    return request.auth


def require_staff(request):
    """Allora staff and admins only (a customer's token gets a 403)."""
    if not request.auth.is_allora_staff:
        raise HttpError(403, "Only Allora staff may do this")
    return request.auth


def require_admin(request):
    if not request.auth.is_admin:
        raise HttpError(403, "Only Allora admins may do this")
    return request.auth


def get_or_404(queryset, **lookup):
    obj = queryset.filter(**lookup).first()
    if obj is None:
        raise HttpError(404, "Not found")
    return obj


class RuleError(HttpError):
    """A request the business rules refuse, with the field it is about."""

    def __init__(self, messages, *, loc=("body",)):
        super().__init__(400, "; ".join(messages))
        self.messages = messages
        self.loc = list(loc)


def form_errors(form, *, loc=("body",), names=None):
    """A Django form's errors as the API's 422 body; ``names`` maps a form field to the API's
    name for it (e.g. "customer" to "customer_id")."""
    names = names or {}
    errors = []
    for field, messages in form.errors.get_json_data().items():
        where = [*loc] if field == "__all__" else [*loc, names.get(field, field)]
        errors += [
            {"loc": where, "msg": m["message"], "type": m["code"] or "invalid"} for m in messages
        ]
    return errors


class FormInvalid(Exception):
    def __init__(self, errors):
        self.errors = errors


def valid_data(form, *, loc=("body",), names=None):
    """The cleaned data of a form that validates; else its errors as the 422 (see form_errors)."""
    if not form.is_valid():
        raise FormInvalid(form_errors(form, loc=loc, names=names))
    return form.cleaned_data


# The API ---------------------------------------------------------------------------------


class VendoredSwagger(DocsBase):
    """Swagger UI from static/vendor/swagger-ui/: the docs page loads nothing from a CDN."""

    def render_page(self, request, api, **kwargs):
        swagger = {"url": self.get_openapi_url(api, kwargs), "layout": "BaseLayout"}
        get_token(request)  # the docs' "Try it out" posts with the session's CSRF token
        return render(
            request,
            "allora/api_docs.html",
            {"api": api, "swagger_settings": swagger},
        )


api = NinjaAPI(
    title="Allora Customer Agreements API",
    version="1",
    description=(
        "Customers, agreements (versions, terms, Exhibit B), visits, rate cards, termination "
        "requests, rate reviews, invoices and the import of existing agreements; drafting and "
        "sending agreements, time entries, emergency requests and project estimates. "
        "Authenticate "
        "with `Authorization: Bearer <token>` (create a token in your profile) or the browser "
        "session. Dates are ISO 8601, from 2000-01-01 to 2100-12-31; money amounts are strings "
        'such as "150.00".'
    ),
    urls_namespace="api",
    auth=[TokenAuth(), SessionAuth()],
    docs=VendoredSwagger(),
)


@api.exception_handler(HttpError)
def _http_error(request, exc):
    if isinstance(exc, RuleError):
        detail = [{"loc": exc.loc, "msg": m, "type": "rule"} for m in exc.messages]
        return api.create_response(request, {"detail": detail}, status=400)
    if exc.status_code == 400 and isinstance(exc.__cause__, ValueError):
        # ninja could not parse the body: malformed JSON (or not UTF-8).
        detail = [{"loc": ["body"], "msg": f"Malformed JSON: {exc.__cause__}", "type": "json"}]
        return api.create_response(request, {"detail": detail}, status=400)
    return api.create_response(request, {"detail": str(exc)}, status=exc.status_code)


@api.exception_handler(FormInvalid)
def _form_invalid(request, exc):
    return api.create_response(request, {"detail": exc.errors}, status=422)


@api.exception_handler(DjangoValidationError)
def _rule_refused(request, exc):
    if hasattr(exc, "error_dict"):
        detail = [
            {"loc": ["body", field], "msg": message, "type": "rule"}
            for field, messages in exc.message_dict.items()
            for message in messages
        ]
    else:
        detail = [{"loc": ["body"], "msg": message, "type": "rule"} for message in exc.messages]
    return api.create_response(request, {"detail": detail}, status=400)


@api.exception_handler(PermissionDenied)
def _forbidden(request, exc):
    return api.create_response(request, {"detail": "Forbidden"}, status=403)


@api.exception_handler(IntegrityError)
def _conflict(request, exc):
    # Two requests raced for the same unique value (the handlers check the usual cases first).
    return api.create_response(
        request, {"detail": "This conflicts with existing data; reload and try again."}, status=409
    )


class Me(Schema):
    id: int
    email: str
    name: str
    role: str
    customer_id: int | None

    @staticmethod
    def resolve_name(user):
        return str(user)


@api.get("/me", response={200: Me, **ERRORS}, tags=["profile"])
def me(request):
    """Who the token (or session) belongs to."""
    return request.auth


@functools.cache
def urls():
    """The API's URL patterns with every app's router attached (mounted at api/v1/)."""
    from agreements.api import router as agreements_router
    from billing.api import router as billing_router
    from delivery.api import router as delivery_router
    from scheduling.api import router as scheduling_router

    api.add_router("", agreements_router)
    api.add_router("", scheduling_router)
    api.add_router("", billing_router)
    api.add_router("", delivery_router)
    return api.urls
