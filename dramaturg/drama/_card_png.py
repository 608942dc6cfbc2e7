"""Character cards inside PNG files: the text chunks that carry them, read and written.

No image library: a card is base64 JSON in a ``tEXt``/``zTXt``/``iTXt``
chunk (``chara`` for V2, ``ccv3`` for V3), and the chunk walk checks the
signature, lengths and CRCs, so a damaged file is a :class:`CardError` that
says where, never a traceback.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from typing import Any

from dramaturg.drama.card_spec import MAX_CARD_BYTES, SPEC_V2, SPEC_V3, CardError

__all__ = ["PNG_KEYWORDS", "card_chunk", "minimal_png", "png_with_cards"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: The text chunk each spec is written to.
PNG_KEYWORDS = {SPEC_V3: "ccv3", SPEC_V2: "chara"}


def _png_chunks(blob: bytes, src: str) -> list[tuple[bytes, bytes]]:
    """Every chunk up to IEND as ``(type, data)``, with signature and CRCs checked."""
    if not blob.startswith(_PNG_SIGNATURE):
        raise CardError(src, f"not a PNG file (bad signature {blob[:8]!r})")
    chunks: list[tuple[bytes, bytes]] = []
    pos = len(_PNG_SIGNATURE)
    while True:
        if pos + 12 > len(blob):
            raise CardError(src, f"truncated PNG: the file ends at byte {len(blob)}, before IEND")
        length, ctype = struct.unpack_from(">I4s", blob, pos)
        if not ctype.isalpha() or length > 2**31 - 1:
            raise CardError(src, f"corrupt PNG: bad chunk header at byte {pos}")
        end = pos + 12 + length
        if end > len(blob):
            raise CardError(
                src,
                f"truncated PNG: chunk {ctype.decode()!r} at byte {pos} needs {length} bytes "
                f"but the file ends at byte {len(blob)}",
            )
        body = blob[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack_from(">I", blob, pos + 8 + length)
        if zlib.crc32(ctype + body) != crc:
            raise CardError(
                src, f"corrupt PNG: chunk {ctype.decode()!r} at byte {pos} has a bad CRC"
            )
        chunks.append((ctype, body))
        pos = end
        if ctype == b"IEND":
            break
    if chunks[0][0] != b"IHDR":
        raise CardError(
            src, f"corrupt PNG: the first chunk is {chunks[0][0].decode()!r}, not 'IHDR'"
        )
    return chunks


def _inflate(data: bytes, src: str, keyword: str) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_CARD_BYTES + 1)
    except zlib.error as e:
        raise CardError(src, f"the PNG '{keyword}' chunk does not decompress ({e})") from None
    if len(out) > MAX_CARD_BYTES or inflater.unconsumed_tail:
        raise CardError(src, f"the PNG '{keyword}' chunk inflates past the 20 MiB limit")
    return out


def _text_keyword(ctype: bytes, body: bytes) -> str | None:
    if ctype not in (b"tEXt", b"zTXt", b"iTXt") or b"\0" not in body:
        return None
    return body.split(b"\0", 1)[0].decode("latin-1")


def _text_value(ctype: bytes, body: bytes, src: str, keyword: str) -> str:
    rest = body.split(b"\0", 1)[1]
    bad = CardError(src, f"corrupt PNG: malformed {ctype.decode()} chunk '{keyword}'")
    if ctype == b"tEXt":
        return rest.decode("latin-1")
    if ctype == b"zTXt":
        if not rest or rest[0] != 0:
            raise bad
        return _inflate(rest[1:], src, keyword).decode("latin-1")
    # iTXt: flag, method, language\0, translated keyword\0, UTF-8 text
    if len(rest) < 2 or rest[2:].count(b"\0") < 2:
        raise bad
    flag, method = rest[0], rest[1]
    text = rest[2:].split(b"\0", 2)[2]
    if flag == 1:
        if method != 0:
            raise bad
        text = _inflate(text, src, keyword)
    try:
        return text.decode("utf-8")
    except UnicodeDecodeError:
        raise bad from None


def card_chunk(blob: bytes, src: str) -> tuple[str, str]:
    """The card's keyword and base64 text: ``ccv3`` if present, else ``chara``."""
    found: dict[str, tuple[bytes, bytes]] = {}
    for ctype, body in _png_chunks(blob, src):
        keyword = _text_keyword(ctype, body)
        if keyword is not None and keyword.lower() in ("ccv3", "chara"):
            found.setdefault(keyword.lower(), (ctype, body))
    for keyword in ("ccv3", "chara"):
        if keyword in found:
            return keyword, _text_value(*found[keyword], src, keyword)
    raise CardError(
        src, "the PNG has no 'chara' or 'ccv3' text chunk, so it carries no character card"
    )


def _chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def minimal_png() -> bytes:
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)  # 1x1, 8-bit RGBA
    pixel = zlib.compress(b"\x00\x00\x00\x00\x00")  # filter byte + one transparent pixel
    return _PNG_SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", pixel) + _chunk(b"IEND", b"")


def png_with_cards(image: bytes, texts: list[tuple[str, dict[str, Any]]]) -> bytes:
    chunks = _png_chunks(image, "(image_bytes)")
    keep = [
        (t, b) for t, b in chunks if (_text_keyword(t, b) or "").lower() not in ("ccv3", "chara")
    ]
    new = [(b"tEXt", kw.encode("latin-1") + b"\0" + _b64_json(card)) for kw, card in texts]
    out = keep[:-1] + new + keep[-1:]  # the card goes just before IEND
    return _PNG_SIGNATURE + b"".join(_chunk(t, b) for t, b in out)


def _b64_json(card: dict[str, Any]) -> bytes:
    return base64.b64encode(json.dumps(card, ensure_ascii=False).encode("utf-8"))
