"""Private files served over HTTP (claim photos, return labels): once the caller has
proved the viewer may see the file, one response shape for every such file — never
cached, never sniffed, sandboxed, not embeddable by other sites."""

from __future__ import annotations

from pathlib import Path

from django.http import FileResponse, Http404


def private_file_response(
    path: Path | None, *, content_type: str, filename: str, attachment: bool
) -> FileResponse:
    """Stream *path* with *content_type*; 404 when the file is missing or unreadable."""
    if path is None:
        raise Http404
    try:
        handle = path.open("rb")
    except (OSError, ValueError):
        raise Http404 from None
    response = FileResponse(
        handle, content_type=content_type, as_attachment=attachment, filename=filename
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
