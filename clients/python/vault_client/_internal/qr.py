"""QR codes: render an invite URI (qrcode) and find one in an image (zxing-cpp)."""

from __future__ import annotations

import io
import os
from typing import Any

from vault.crypto.errors import InviteUriError
from vault.crypto.invites import NOT_AN_INVITE, InviteLink, parse_invite_uri
from vault_client.errors import InvalidArgumentError, InviteImageError


def _qr(uri: str) -> Any:
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=10, border=4)
    code.add_data(uri)
    code.make(fit=True)
    return code


def render(uri: str, fmt: str) -> bytes | str:
    """PNG or SVG bytes, or text for a terminal (dark modules drawn as spaces on a light
    block background, so it scans on dark and light terminals alike)."""
    code = _qr(uri)
    if fmt == "text":
        buffer = io.StringIO()
        code.print_ascii(out=buffer, invert=True)
        return buffer.getvalue()
    if fmt == "svg":
        from qrcode.image.svg import SvgPathImage

        image = code.make_image(image_factory=SvgPathImage)
    elif fmt == "png":
        try:
            from qrcode.image.pil import PilImage
        except ImportError:  # pragma: no cover - pillow is part of the client extra
            raise RuntimeError("PNG QR codes need Pillow: pip install 'vault[client]'") from None
        image = code.make_image(image_factory=PilImage)
    else:
        raise InvalidArgumentError("a QR code is made as 'png', 'svg' or 'text'")
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()


def decode_invite_image(path: str | os.PathLike[str]) -> InviteLink:
    """The Vault invite in the QR code(s) of an image file (:class:`InviteImageError`)."""
    try:
        import zxingcpp
        from PIL import Image, UnidentifiedImageError
    except ImportError:  # pragma: no cover - part of the client extra
        raise InviteImageError(
            "reading QR codes from images needs zxing-cpp and Pillow: pip install 'vault[client]'"
        ) from None
    try:
        with Image.open(os.fspath(path)) as image:
            image.load()
            # QR codes only: a scan for every format can also "find" a short 1D code in a
            # QR code's rows.
            qr_only = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
            found = zxingcpp.read_barcodes(image.convert("RGB"), formats=qr_only)
    except (OSError, UnidentifiedImageError, ValueError):
        raise InviteImageError(
            "this file could not be read as an image; take a photo or screenshot of the "
            "invite's QR code and try again"
        ) from None
    texts = [b.text for b in found if b.text]
    if not texts:
        raise InviteImageError(
            "no QR code was found in this image; make sure the whole code is in the picture, "
            "sharp and not too small"
        )
    for text in texts:
        try:
            return parse_invite_uri(text)
        except InviteUriError as error:
            last = error
    if len(texts) == 1:
        raise InviteImageError(last.message if last.message != NOT_AN_INVITE else
                               "the QR code in this image is not a Vault invite")
    raise InviteImageError("none of the QR codes in this image is a Vault invite")
