"""Small additions to allauth's views."""

from __future__ import annotations

from typing import Any

from allauth.account.views import ConfirmLoginCodeView


class ConfirmLoginCodeFromLink(ConfirmLoginCodeView):  # type: ignore[misc]  # allauth ships no types
    """allauth's sign-in code form, filled from the link in the code's email (``?code=``):
    opened in the browser that asked for the code, one click signs in. The code still has
    to be posted from that browser's session, so a forwarded link signs nobody in."""

    def get_initial(self) -> dict[str, Any]:
        initial = dict(super().get_initial())
        code = self.request.GET.get("code", "")
        if code and len(code) <= 20:
            initial["code"] = code
        return initial


confirm_login_code = ConfirmLoginCodeFromLink.as_view()
