"""Rendering a notification: the default templates and the merchants' sandboxed overrides.

Defaults are files under ``defaults/``::

    defaults/_layout.html.j2            the branded HTML email around every email body
    defaults/_footer.text.j2            the end of every plain-text email (tracking link,
                                        marketing text, preferences link)
    defaults/<locale>/_macros.j2        shared pieces: order summary, pickup place…
    defaults/<locale>/<event>.email.j2  blocks ``subject``, ``text``, ``html`` (the body)
    defaults/<locale>/<event>.sms.j2    block ``text``
    defaults/<locale>/<event>.push.j2   blocks ``title``, ``body``

A merchant's :class:`~suivi.notifications.models.Template` replaces any of subject /
body_text / body_html; its HTML body still goes inside the branded layout and its text body
still ends with the standard footer, so every email keeps the tracking link, the marketing
block and the preferences link. An override that does not compile or render (syntax error,
sandbox violation, misspelt variable, too large a result) is set aside: the default is used
and ``Rendered.problems`` says why. Merchant input never raises here.

Both environments are Jinja's immutable sandbox with ``StrictUndefined``: the HTML one
escapes every value, the text one (subjects, plain text, SMS, push) does not. The context
(:mod:`.context`) is plain data with every documented key present, so the defaults never
meet an undefined value and a merchant's typo is reported rather than printed as nothing.
The one trusted markup is the shop's marketing block (``context["marketing"]["html"]``),
inserted unescaped by the layout. Compiled templates are cached: files once, overrides by
source text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from jinja2 import FileSystemLoader, StrictUndefined, TemplateSyntaxError, nodes, pass_context
from jinja2 import Template as JinjaTemplate
from jinja2.exceptions import SecurityError, TemplateNotFound, UndefinedError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer
from markupsafe import Markup

from .catalog import EMAIL, EVENTS, PUSH, SMS
from .context import FALLBACK_LOCALE, resolve_locale
from .sms_text import SegmentInfo, gsm_friendly, segment_info

if TYPE_CHECKING:
    from .models import Template

DEFAULTS_DIR: Final = Path(__file__).resolve().parent / "defaults"
TEMPLATED_CHANNELS: Final = (EMAIL, SMS, PUSH)

SUBJECT_MAX: Final = 200
PUSH_TITLE_MAX: Final = 80
PUSH_BODY_MAX: Final = 240

# Bounds on what a merchant template may cost. The sandbox stops access to Python
# internals; these stop a template from exhausting the memory or the time of the worker
# that renders every shop's messages.
MAX_SOURCE: Final = 100_000  # characters of one template source
MAX_OUTPUT: Final = 512 * 1024  # characters of one rendered part
MAX_STEPS: Final = 100_000  # loop iterations plus calls in one render
MAX_SEQUENCE: Final = 10_000  # items (or characters) a repetition may build
MAX_RANGE: Final = 1_000
MAX_WIDTH: Final = 1_000  # padding widths, batch and slice counts
MAX_INT_BITS: Final = 4_096
_WIDE_FORMAT = re.compile(r"\d{5,}|%[^a-zA-Z%]*\*")  # width of 5+ digits, or taken from args
# str methods that allocate as much as asked: the equivalent filters are bounded instead.
_UNSAFE_STR_METHODS: Final = frozenset(
    {"center", "ljust", "rjust", "zfill", "expandtabs", "replace", "format", "format_map"}
)


class OutputTooLarge(SecurityError):
    """A template produced more than :data:`MAX_OUTPUT` characters."""


class TooMuchWork(SecurityError):
    """A template looped or called more than :data:`MAX_STEPS` times."""


# The step budget of the merchant render in progress (None while rendering our files).
_BUDGET: ContextVar[list[int] | None] = ContextVar("suivi_template_budget", default=None)


def _spend() -> None:
    budget = _BUDGET.get()
    if budget is not None:
        budget[0] -= 1
        if budget[0] < 0:
            raise TooMuchWork("The template does too much work (loops or calls).")


def _counted(iterable: Any) -> Iterator[Any]:
    for item in iterable:
        _spend()
        yield item


@pass_context
def _steps(context: Context, iterable: Any) -> Any:
    """Wraps the iterable of every ``{% for %}``: counts iterations against the budget."""
    return iterable if _BUDGET.get() is None else _counted(iterable)


@pass_context
def _sized(context: Context, value: Any) -> Any:
    """Wraps every ``~`` concatenation: a doubling string stops at the output cap."""
    if isinstance(value, str) and len(value) > MAX_OUTPUT:
        raise OutputTooLarge("The result is too large.")
    return value


def _bounded_range(*args: int) -> range:
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise SecurityError(f"range() is limited to {MAX_RANGE} items.")
    return rng


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _size(value: Any) -> int | None:
    return len(value) if isinstance(value, str | list | tuple) else None


def _check_width(width: Any) -> None:
    if (_is_int(width) and width > MAX_WIDTH) or (
        isinstance(width, str) and len(width) > MAX_WIDTH
    ):
        raise SecurityError("This width is too large.")


def _check_printf(value: Any) -> None:
    if isinstance(value, str) and _WIDE_FORMAT.search(value):
        raise SecurityError("This formatting width is too large.")


def _check_replace(s: Any, old: Any, new: Any, count: Any = None) -> None:
    text, old_s, new_s = str(s), str(old), str(new)
    growth = max(0, len(new_s) - len(old_s))
    matches = len(text) + 1 if not old_s else len(text) // len(old_s)
    if len(text) + matches * growth > MAX_OUTPUT:
        raise OutputTooLarge("The result is too large.")


class _Bounded(NodeTransformer):
    """Rewrites a parsed template so its loops and ``~`` concatenations are metered."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        loop = self.generic_visit(node)
        assert isinstance(loop, nodes.For)
        loop.iter = nodes.Filter(loop.iter, "_steps", [], [], None, None, lineno=loop.lineno)
        return loop

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        concat = self.generic_visit(node)
        assert isinstance(concat, nodes.Expr)
        return nodes.Filter(concat, "_sized", [], [], None, None, lineno=concat.lineno)


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with bounds on what a template can allocate and do."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = _Bounded().visit(super()._parse(source, name, filename))
        assert isinstance(tree, nodes.Template)
        return tree

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _spend()
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        # Jinja lets str.format through in a sandboxed form; a width taken from the
        # arguments still allocates at will, so it is refused (is_safe_attribute) instead.
        return None

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and attr in _UNSAFE_STR_METHODS:
            return False
        return super().is_safe_attribute(obj, attr, value)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                size = _size(seq)
                if size is not None and _is_int(times) and size * times > MAX_SEQUENCE:
                    raise SecurityError("The result of this repetition is too large.")
            if (
                _is_int(left)
                and _is_int(right)
                and left.bit_length() + right.bit_length() > MAX_INT_BITS
            ):
                raise SecurityError("This number is too large.")
        elif operator == "**" and _is_int(left) and _is_int(right):
            if abs(left) > 1 and left.bit_length() * right > MAX_INT_BITS:
                raise SecurityError("This number is too large.")
        elif operator == "+":
            left_size, right_size = _size(left), _size(right)
            if (
                left_size is not None
                and right_size is not None
                and left_size + right_size > MAX_OUTPUT
            ):
                raise OutputTooLarge("The result is too large.")
        elif operator == "%":
            _check_printf(left)
        return super().call_binop(context, operator, left, right)


def _guard_filter(env: _Sandbox, name: str, check: Callable[..., None]) -> None:
    """Run *check* on a built-in filter's arguments before the filter itself."""
    original = env.filters[name]
    skip = 1 if getattr(original, "jinja_pass_arg", None) is not None else 0

    @functools.wraps(original)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        check(*args[skip:], **kwargs)
        return original(*args, **kwargs)

    env.filters[name] = guarded


def _environment(*, autoescape: bool) -> _Sandbox:
    env = _Sandbox(
        loader=FileSystemLoader(DEFAULTS_DIR),
        autoescape=autoescape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        cache_size=-1,  # a few hundred files, all compiled once
    )
    for name in ("lipsum", "cycler", "joiner"):
        env.globals.pop(name, None)
    env.globals["range"] = _bounded_range
    env.filters["_steps"] = _steps
    env.filters["_sized"] = _sized
    _guard_filter(env, "center", lambda value, width=80, **_: _check_width(width))
    _guard_filter(env, "indent", lambda s, width=4, *_, **__: _check_width(width))
    _guard_filter(env, "batch", lambda value, linecount, *_, **__: _check_width(linecount))
    _guard_filter(env, "slice", lambda value, slices, *_, **__: _check_width(slices))
    _guard_filter(env, "format", lambda value, *_, **__: _check_printf(value))
    _guard_filter(env, "replace", _check_replace)
    return env


HTML_ENV: Final = _environment(autoescape=True)
TEXT_ENV: Final = _environment(autoescape=False)
_ENVS: Final = {"html": HTML_ENV, "text": TEXT_ENV}


@dataclass(frozen=True)
class Rendered:
    """One message ready for its channel.

    ``subject`` is the email subject or push title (``""`` for SMS); ``text`` the plain-text
    email, SMS or push body; ``html`` the complete email document (``""`` otherwise);
    ``url`` the tracking page the push opens; ``segments`` the SMS cost (``None``
    otherwise); ``problems`` why parts of an override were set aside for the default.
    """

    subject: str
    text: str
    html: str
    url: str
    segments: SegmentInfo | None
    used_override: bool
    problems: list[str] = field(default_factory=list)


# --- compiling and running --------------------------------------------------------------


@dataclass(frozen=True)
class _Broken:
    """A merchant source that does not compile, remembered so as not to retry each send."""

    message: str


@functools.lru_cache(maxsize=2048)
def _compile(kind: str, source: str) -> JinjaTemplate | _Broken:
    try:
        return _ENVS[kind].from_string(source)
    except Exception as exc:  # syntax errors mostly; merchant input never raises
        return _Broken(_describe(exc))


def _collect(chunks: Iterator[str]) -> str:
    """Join a merchant template's output, stopping at :data:`MAX_OUTPUT` characters."""
    out: list[str] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_OUTPUT:
            raise OutputTooLarge("The result is too large.")
        out.append(chunk)
    return "".join(out)


def _describe(exc: Exception) -> str:
    if isinstance(exc, TemplateSyntaxError):
        return f"syntax error on line {exc.lineno}: {exc.message}"
    if isinstance(exc, OutputTooLarge | TooMuchWork):
        return str(exc)
    if isinstance(exc, RecursionError):
        return "the template calls itself too deeply."
    if isinstance(exc, SecurityError):
        return f"not allowed: {exc}"
    if isinstance(exc, UndefinedError):
        return f"unknown value: {exc.message}"
    return f"{type(exc).__name__}: {exc}"[:300]


def _run_source(kind: str, source: str, context: Mapping[str, Any]) -> str:
    """Render a merchant source; raise ``ValueError(readable problem)`` on any failure."""
    if len(source) > MAX_SOURCE:
        raise ValueError(f"the template is longer than {MAX_SOURCE} characters.")
    compiled = _compile(kind, source)
    if isinstance(compiled, _Broken):
        raise ValueError(compiled.message)
    token = _BUDGET.set([MAX_STEPS])
    try:
        return _collect(compiled.generate(context))
    except Exception as exc:  # merchant input: whatever it does is a problem, not a crash
        raise ValueError(_describe(exc)) from exc
    finally:
        _BUDGET.reset(token)


def _run_block(template: JinjaTemplate, block: str, context: Mapping[str, Any]) -> str:
    render = template.blocks.get(block)
    if render is None:
        return ""
    # Our own files: no output cap (an order of a thousand lines makes a long email).
    return "".join(render(template.new_context(dict(context))))


def _run_file(env: _Sandbox, name: str, context: Mapping[str, Any]) -> str:
    return env.get_template(name).render(dict(context))


@functools.lru_cache(maxsize=512)
def _default_name(locale: str, event_key: str, channel: str) -> str:
    for candidate in (locale, FALLBACK_LOCALE):
        name = f"{candidate}/{event_key}.{channel}.j2"
        if (DEFAULTS_DIR / name).is_file():
            return name
    raise TemplateNotFound(f"{locale}/{event_key}.{channel}.j2")


def default_template(kind: str, locale: str, event_key: str, channel: str) -> JinjaTemplate:
    """The compiled default file (from the environment's cache after the first time)."""
    return _ENVS[kind].get_template(_default_name(resolve_locale(locale), event_key, channel))


# --- clean-ups --------------------------------------------------------------------------


def _one_line(text: str, limit: int) -> str:
    """Collapse whitespace (no newline may reach a header) and trim at a word."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:.-") + "…"


def _clean_text(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


def _clean_sms(text: str) -> str:
    lines = (" ".join(line.split()) for line in gsm_friendly(text).splitlines())
    return "\n".join(line for line in lines if line)


# Bare tags of email bodies get the layout's inline styles (escaped values cannot contain
# a literal tag, so this touches only template markup).
_INLINE_STYLES: Final = {
    "<h1>": '<h1 style="margin:0 0 16px;font-size:22px;line-height:1.3;color:#111827;">',
    "<h2>": '<h2 style="margin:24px 0 8px;font-size:17px;line-height:1.3;color:#111827;">',
    "<p>": '<p style="margin:0 0 16px;">',
    "<ul>": '<ul style="margin:0 0 16px;padding:0 0 0 20px;">',
    "<li>": '<li style="margin:0 0 4px;">',
}


def _inline_styles(html: str) -> str:
    for tag, styled in _INLINE_STYLES.items():
        html = html.replace(tag, styled)
    return html


# --- overrides --------------------------------------------------------------------------

_PART_LABELS: Final = {
    "subject": "Subject",
    "title": "Title",
    "text": "Text",
    "body": "Body",
    "html": "HTML body",
}


@dataclass
class _Job:
    """One message being rendered: where each part comes from and what went wrong."""

    event_key: str
    channel: str
    locale: str
    context: Mapping[str, Any]
    overrides: dict[str, str]
    problems: list[str] = field(default_factory=list)
    used_override: bool = False

    def part(self, kind: str, block: str) -> str:
        """Render *block* from the override when it has one that works, else the default."""
        source = self.overrides.get(block, "")
        if source.strip():
            result, problem = _attempt(block, kind, source, self.context)
            if not problem:
                self.used_override = True
                return result
            self.problems.append(problem)
        default = default_template(kind, self.locale, self.event_key, self.channel)
        return _run_block(default, block, self.context)


def _attempt(block: str, kind: str, source: str, context: Mapping[str, Any]) -> tuple[str, str]:
    """Render a merchant part: ``(result, "")``, or ``("", the problem)``."""
    label = _PART_LABELS[block]
    try:
        result = _run_source(kind, source, context)
    except ValueError as exc:
        return "", f"{label}: {exc}"
    if not result.strip():
        return "", f"{label}: the template renders nothing."
    return result, ""


def _override_sources(
    override: Template | None, event_key: str, channel: str, problems: list[str]
) -> dict[str, str]:
    if override is None:
        return {}
    if override.event_key != event_key or override.channel != channel:
        problems.append(
            f"The override is for {override.event_key}/{override.channel}, not"
            f" {event_key}/{channel}; the default is used."
        )
        return {}
    if channel == EMAIL:
        return {
            "subject": override.subject or "",
            "text": override.body_text or "",
            "html": override.body_html or "",
        }
    if channel == SMS:
        return {"text": override.body_text or ""}
    return {"title": override.subject or "", "body": override.body_text or ""}


def _check_target(event_key: str, channel: str) -> None:
    if event_key not in EVENTS:
        raise ValueError(f"Unknown notification event {event_key!r}.")
    if channel not in TEMPLATED_CHANNELS:
        raise ValueError(f"Channel {channel!r} is not templated.")


# --- public API -------------------------------------------------------------------------


def render(
    *,
    event_key: str,
    channel: str,
    locale: str,
    context: Mapping[str, Any],
    override: Template | None = None,
) -> Rendered:
    """Render the message of *event_key* on *channel* in *locale* from *context*.

    *context* comes from :func:`.context.order_context` or :func:`.context.sample_context`.
    Unknown events and the webhook channel raise ``ValueError`` (a programming error); a
    broken *override* never does.
    """
    _check_target(event_key, channel)
    locale = resolve_locale(locale)
    problems: list[str] = []
    job = _Job(
        event_key,
        channel,
        locale,
        context,
        _override_sources(override, event_key, channel, problems),
        problems,
    )
    tracking = str(context["links"]["tracking"])

    if channel == SMS:
        text = _clean_sms(job.part("text", "text"))
        # Every SMS links to the order: its tracking page, appended when the text has no
        # link to it (the customer-space page of the order will do as well).
        space = str(context["links"].get("order") or "")
        if tracking and tracking not in text and not (space and space in text):
            text = f"{text} {tracking}".strip()
        return Rendered(
            subject="",
            text=text,
            html="",
            url=tracking,
            segments=segment_info(text),
            used_override=job.used_override,
            problems=job.problems,
        )

    if channel == PUSH:
        return Rendered(
            subject=_one_line(job.part("text", "title"), PUSH_TITLE_MAX),
            text=_one_line(job.part("text", "body"), PUSH_BODY_MAX),
            html="",
            url=tracking,
            segments=None,
            used_override=job.used_override,
            problems=job.problems,
        )

    subject = _one_line(job.part("text", "subject"), SUBJECT_MAX)
    footer = _run_file(TEXT_ENV, "_footer.text.j2", context)
    text = _clean_text(job.part("text", "text") + "\n\n" + footer)
    body = _inline_styles(job.part("html", "html"))
    marketing = context.get("marketing")
    page = HTML_ENV.get_template("_layout.html.j2").render(
        {
            **context,
            "subject": subject,
            "content": Markup(body),  # noqa: S704 -- rendered by the autoescaping sandbox
            # The shop's own block, from NotificationSettings.marketing_html: trusted markup.
            "marketing_html": Markup(marketing["html"]) if marketing else "",  # noqa: S704
        }
    )
    return Rendered(
        subject=subject,
        text=text,
        html=page,
        url=tracking,
        segments=None,
        used_override=job.used_override,
        problems=job.problems,
    )


def check_override(
    *,
    event_key: str,
    channel: str,
    locale: str,
    subject: str,
    body_text: str,
    body_html: str,
    context: Mapping[str, Any],
) -> list[str]:
    """Return what is wrong with a merchant's sources, readable (``[]`` when all is fine).

    Each non-empty part is compiled and rendered with *context* (a sample or a real order),
    as :func:`render` would; parts a channel does not use are reported.
    """
    if event_key not in EVENTS:
        return [f"Unknown notification event {event_key!r}."]
    if channel not in TEMPLATED_CHANNELS:
        return [f"Channel {channel!r} has no templates."]
    problems: list[str] = []
    if channel == EMAIL:
        parts = [
            ("subject", "text", subject),
            ("text", "text", body_text),
            ("html", "html", body_html),
        ]
    elif channel == SMS:
        parts = [("text", "text", body_text)]
        if subject.strip():
            problems.append("An SMS has no subject; remove it.")
        if body_html.strip():
            problems.append("An SMS has no HTML body; remove it.")
    else:
        parts = [("title", "text", subject), ("body", "text", body_text)]
        if body_html.strip():
            problems.append("A push notification has no HTML body; remove it.")
    for block, kind, source in parts:
        if source.strip():
            _result, problem = _attempt(block, kind, source, context)
            if problem:
                problems.append(problem)
    return problems
