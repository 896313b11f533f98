"""``{% company as company %}``: Allora's details (*Settings → Company*) in any template, PDFs
and emails included (they render without a request, so no context processor reaches them)."""

from django import template

from allora.models import CompanyProfile

register = template.Library()


@register.simple_tag
def company():
    return CompanyProfile.current()
