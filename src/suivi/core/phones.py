"""Phone numbers validated and stored in E.164 with libphonenumber."""

from __future__ import annotations

import phonenumbers

from .errors import InvalidInput


def normalize_phone(raw: str, *, default_region: str = "FR", field: str = "phone") -> str:
    """Return *raw* in E.164 form, or raise :class:`InvalidInput` if it is not a valid number."""
    try:
        parsed = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput(f"{raw!r} is not a phone number.", field=field) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidInput(f"{raw!r} is not a valid phone number.", field=field)
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def format_phone(e164: str, *, region: str = "FR") -> str:
    """Format an E.164 number nationally when it belongs to *region*, else internationally."""
    parsed = phonenumbers.parse(e164, None)
    if phonenumbers.region_code_for_number(parsed) == region:
        fmt = phonenumbers.PhoneNumberFormat.NATIONAL
    else:
        fmt = phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return str(phonenumbers.format_number(parsed, fmt))
