"""The drawn signature is checked as an image before anything is written: a real PNG of the
signature pad's size, or the form says "The signature must be drawn in the box"."""

import base64
import io
import os

import pytest
from django.urls import reverse
from PIL import Image, ImageDraw

from agreements.drawing import NOT_DRAWN, check_drawing
from agreements.forms import SignForm
from agreements.models import AgreementVersion, Signature
from agreements.tests.factories import sent_agreement
from billing.tests.factories import published_card


def png(width=576, height=176, *, noise=False) -> bytes:
    """A PNG like the pad's: a stroke on a transparent canvas (or random pixels)."""
    if noise:
        image = Image.frombytes("RGBA", (width, height), os.urandom(width * height * 4))
    else:
        image = Image.new("RGBA", (width, height))
        ImageDraw.Draw(image).line([(10, 10), (width - 10, height - 10)], fill="#10264a", width=3)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def data_url(raw: bytes, media="image/png") -> str:
    return f"data:{media};base64,{base64.b64encode(raw).decode()}"


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (200, 100), "white").save(out, format="JPEG")
    return out.getvalue()


SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
NOT_DRAWINGS = {
    "an SVG": data_url(SVG, "image/svg+xml"),
    "an SVG labelled as a PNG": data_url(SVG),
    "a JPEG labelled as a PNG": data_url(jpeg()),
    "garbage base64": "data:image/png;base64,!!!not base64 at all!!!",
    "text labelled as a PNG": data_url(b"hello, this is not an image" * 10),
    "a PNG cut in half": data_url(png()[: len(png()) // 2]),
    "a PNG too wide": data_url(png(4000, 100)),
    "a PNG too tall": data_url(png(400, 3000)),
    "a PNG too heavy": data_url(png(1000, 400, noise=True)),
    "a link": "http://169.254.169.254/latest/meta-data.png",
}


@pytest.mark.parametrize("what", NOT_DRAWINGS)
def test_anything_but_a_png_of_the_pads_size_is_refused(what):
    form = SignForm({"consent": "on", "typed_name": "Alice Moore", "drawing": NOT_DRAWINGS[what]})

    assert not form.is_valid()
    assert form.errors["drawing"] == [NOT_DRAWN]


def test_a_drawing_of_the_pad_is_accepted_even_on_a_dense_screen():
    for width, height in [(576, 176), (2304, 704)]:  # 1 and 4 device pixels per CSS pixel
        drawing = data_url(png(width, height))
        assert check_drawing(drawing) == drawing


def test_a_signature_that_is_not_an_image_writes_nothing(client_for, customer_a, alice, staff):
    published_card()
    version = sent_agreement(customer=customer_a, customer_user=alice, sender=staff)

    response = client_for(alice).post(
        reverse("portal:agreement_sign", args=[version.agreement_id]),
        {"consent": "on", "typed_name": "Alice Moore", "drawing": data_url(SVG)},
    )

    assert response.status_code == 200
    assert NOT_DRAWN in response.content.decode()
    assert not Signature.objects.exists()
    assert AgreementVersion.objects.get(pk=version.pk).status == AgreementVersion.Status.SENT
