"""The ``suivi`` command: run the platform, the worker, migrations, demo data and shops.

    suivi run [--port N] [--host H] [--demo] [--workers N]   web server + worker
    suivi worker [--once]                                     background jobs, foreground
    suivi migrate                                             apply database migrations
    suivi demo [--seed N] [--orders N] [--reset] [--bulk]     load the demo platform
    suivi createshop --name NAME [--slug] [--owner-email] [--owner-password] [--invoicing]
    suivi celery <celery arguments…>                          Celery workers (scale-out mode)
    suivi manage <django command …>                           any Django management command

A user mistake (a bad port, a taken slug, an unreachable database) prints one clear line
and exits with status 2 (usage) or 1 (environment); never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from suivi.core.worker import wake_from_signal

DEFAULT_PORT = 8000
# Addresses meaning "every interface" (compared, never bound here).
_EVERY_IPV4 = ("0.0.0.0", "")  # noqa: S104
READY_TIMEOUT_SECONDS = 60.0
# Internal first argument: exec a child of `suivi run` that dies with it.
CHILD_LAUNCHER = "_exec-child"
STOP_TIMEOUT_SECONDS = 10.0


class UsageError(Exception):
    """The command line asks for something impossible; the message says what to do."""


# --- helpers that need Django ---------------------------------------------------------------


def _django_setup() -> None:
    import django

    django.setup()


def _pending_migrations() -> int:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def _require_migrated() -> None:
    if _pending_migrations():
        raise UsageError("The database is not up to date: run `suivi migrate` first.")


def _migrate(*, verbosity: int) -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=verbosity)
    call_command("createcachetable", verbosity=verbosity)  # rate limits shared by processes


def _database_description() -> str:
    from django.conf import settings

    db = settings.DATABASES["default"]
    if "sqlite" in db["ENGINE"]:
        return f"SQLite, {db['NAME']}"
    return f"PostgreSQL database {db['NAME']} on {db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}"


# --- suivi demo -------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    """Load the demo platform."""
    from suivi.demo.loader import demo_load

    _require_migrated()
    from suivi.demo.aftersales import demo_aftersales
    from suivi.demo.tracking import demo_tracking

    report = demo_load(
        seed=args.seed,
        orders=args.orders,
        reset=args.reset,
        method="bulk" if args.bulk else "auto",
        progress=True,
    )
    print(report.describe())
    print(f"Parcels with carrier events: {demo_tracking(report.shops)}")
    print(f"Claims opened by the demo customer: {demo_aftersales(report.shops)}")
    return 0


# --- suivi createshop -------------------------------------------------------------------------


def cmd_createshop(args: argparse.Namespace) -> int:
    """Create a shop, optionally its owner login, and print its first API key once."""
    import secrets

    from django.contrib.auth import get_user_model
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email
    from django.db import transaction

    from suivi.shops.models import Membership
    from suivi.shops.services import api_key_create, shop_create, staff_add

    _require_migrated()
    name = args.name.strip()
    if not name:
        raise UsageError("--name cannot be empty.")
    if args.owner_password and not args.owner_email:
        raise UsageError("--owner-password needs --owner-email.")
    generated_password = ""
    if args.owner_email:
        try:
            validate_email(args.owner_email)
        except ValidationError:
            raise UsageError(f"{args.owner_email!r} is not an email address.") from None
        user_exists = get_user_model().objects.filter(username=args.owner_email).exists()
        if user_exists and args.owner_password:
            raise UsageError(
                f"{args.owner_email} already has a login; leave out --owner-password "
                "(their password stays as it is)."
            )
        if not user_exists:
            if args.owner_password:
                try:
                    validate_password(args.owner_password)
                except ValidationError as exc:
                    raise UsageError(
                        "The owner password is too weak: " + " ".join(exc.messages)
                    ) from None
            else:
                generated_password = secrets.token_urlsafe(12)
    with transaction.atomic():
        shop = shop_create(name=name, slug=args.slug or None, invoicing_enabled=args.invoicing)
        if args.owner_email:
            staff_add(
                shop=shop,
                email=args.owner_email,
                password=args.owner_password or generated_password or None,
                role=Membership.Role.OWNER,
            )
        issued = api_key_create(shop=shop, name="Created with suivi createshop")
    print(f"Created the shop {shop.name!r} (slug {shop.slug}).")
    if args.owner_email:
        print(f"  Owner login: {args.owner_email}")
        if generated_password:
            print(f"  Owner password (shown once): {generated_password}")
    print(f"  API key (shown once, store it now): {issued.secret}")
    return 0


# --- suivi migrate, worker, manage ------------------------------------------------------------


def cmd_migrate(args: argparse.Namespace) -> int:
    """Apply the database migrations."""
    _migrate(verbosity=1)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Run the background worker in the foreground until SIGINT or SIGTERM."""
    from suivi.core.worker import Worker

    _require_migrated()
    worker = Worker()
    if args.once:
        worker.run_once()
    else:
        worker.run()
    return 0


def cmd_celery(args: argparse.Namespace) -> int:
    """Run a Celery command against Suivi's Celery app (scale-out mode)."""
    from celery.bin.celery import main as celery_main

    sys.argv = ["celery", "-A", "suivi.celery_app", *args.celery_args]
    celery_main()
    return 0


def cmd_manage(args: argparse.Namespace) -> int:
    """Run a Django management command."""
    from django.core.management import execute_from_command_line

    execute_from_command_line(["suivi manage", *args.command])
    return 0


# --- suivi run: two child processes under one supervisor --------------------------------------


@dataclass
class Child:
    """A supervised child process, in its own process group so that its own children
    (granian's workers) are stopped with it."""

    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, env: dict[str, str]) -> None:
        """Start the process, through the launcher that ties its life to ours."""
        launcher = [sys.executable, "-m", "suivi.cli", CHILD_LAUNCHER, str(os.getpid())]
        # Our own argv (sys.executable and fixed modules), never user text run by a shell.
        self.process = subprocess.Popen(  # noqa: S603
            [*launcher, *self.argv], env=env, stdin=subprocess.DEVNULL, process_group=0
        )

    @property
    def exit_code(self) -> int | None:
        """Return the exit status if the process ended, else None."""
        return None if self.process is None else self.process.poll()

    def signal_group(self, sig: signal.Signals) -> None:
        """Send *sig* to the child's process group (quietly if it is gone)."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, sig)


class Supervisor:
    """Start children, watch them, and stop them all (TERM, wait, KILL) on a signal or when
    one of them dies."""

    def __init__(self, children: Sequence[Child], *, stop_timeout: float = STOP_TIMEOUT_SECONDS):
        self.children = list(children)
        self.stop_timeout = stop_timeout
        self.stop_requested = threading.Event()
        self.signal_name = ""

    def start(self, env: dict[str, str]) -> None:
        """Start every child."""
        for child in self.children:
            child.start(env)

    def dead_child(self) -> Child | None:
        """Return the first child that has exited, if any."""
        return next((c for c in self.children if c.exit_code is not None), None)

    def install_signal_handlers(self) -> dict[int, Any]:
        """Turn SIGINT, SIGTERM and SIGHUP into a stop request; return the old handlers."""

        def handle(signum: int, frame: FrameType | None) -> None:
            self.signal_name = signal.Signals(signum).name
            wake_from_signal(self.stop_requested)

        return {
            sig: signal.signal(sig, handle)
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        }

    def watch(self, poll_seconds: float = 0.2) -> Child | None:
        """Wait until a stop is requested (return None) or a child dies (return it)."""
        while not self.stop_requested.wait(poll_seconds):
            if (dead := self.dead_child()) is not None:
                return dead
        return None

    def stop(self) -> None:
        """Terminate every child's group, wait up to *stop_timeout*, then kill what is left."""
        for child in self.children:
            if child.exit_code is None:
                child.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"{child.name} did not stop in {self.stop_timeout:g} s: killing it.")
        for child in self.children:
            # Also reaps grandchildren a dead leader may have left in its group.
            child.signal_group(signal.SIGKILL)
            if child.process is not None:
                child.process.wait()


def _exec_child(argv: list[str]) -> int:
    """Replace this process with *argv[1:]*, set to receive SIGTERM when the process
    *argv[0]* (``suivi run``) dies, even by SIGKILL, so that no server outlives it.

    A separate step rather than ``preexec_fn``: that runs between fork and exec, which is
    unsafe in a process with threads (tqdm's monitor, signal wake-ups).
    """
    parent, command = int(argv[0]), argv[1:]
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1  # from <linux/prctl.h>
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the request took effect
        return 1
    os.execv(command[0], command)  # noqa: S606 (our own argv, see Child.start)


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number (1-65535)")
    return port


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive whole number")
    return number


def _not_negative(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number >= 0")
    return number


def _check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host.strip("[]"), port))
        except OSError as exc:
            raise UsageError(
                f"Cannot listen on {host}:{port} ({exc.strerror}). "
                "Choose another port with --port or PORT=…"
            ) from None


def _threads_per_worker() -> int:
    """Return the Python threads per web process.

    Granian's WSGI default is half its backpressure (256 threads for 2 workers): each thread
    keeps its own database connection (CONN_MAX_AGE), which would exhaust PostgreSQL's
    connections long before it helped throughput. Granian itself advises at most 2 x cores + 1.
    """
    return min(16, 2 * (os.cpu_count() or 1) + 1)


def _browse_host(host: str) -> str:
    """Return the host a browser on this machine uses to reach a server bound to *host*."""
    if host in _EVERY_IPV4:
        return "127.0.0.1"
    if host in ("::", "[::]"):
        return "[::1]"
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _wait_until_ready(url: str, supervisor: Supervisor, timeout: float) -> Child | None:
    """Poll *url* until it answers 200; return a child that died meanwhile, if any."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not supervisor.stop_requested.is_set():
        if (dead := supervisor.dead_child()) is not None:
            return dead
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our own URL)
                if response.status == 200:
                    return None
        except (urllib.error.URLError, OSError):
            pass
        supervisor.stop_requested.wait(0.2)
    if supervisor.stop_requested.is_set():
        return None
    raise UsageError(f"The web server did not answer {url} within {timeout:g} s.")


def _banner(base: str, host: str, *, mail_folder: str = "") -> str:
    from suivi.demo.credentials import credentials_banner

    lines = [
        "",
        f"Suivi is running on {base}/",
        f"  Track        {base}/track/  (customer space: {base}/space/)",
        f"  Back office  {base}/shop/  (shop staff)",
        f"  Admin        {base}/admin/",
        f"  API docs     {base}/api/v1/docs",
        f"  OpenAPI      {base}/api/v1/openapi.json",
        f"  Health       {base}/healthz",
        f"  Database     {_database_description()}",
    ]
    if mail_folder:
        lines.append(f"  Emails       written to {mail_folder} (demo: no mail server)")
    if host in (*_EVERY_IPV4, "::", "[::]"):
        lines.append(
            "  Listening on every interface: set SUIVI_ALLOWED_HOSTS to the names you use."
        )
    lines += [*credentials_banner(), "", "Press Ctrl-C to stop.", ""]
    return "\n".join(lines)


def cmd_run(args: argparse.Namespace) -> int:
    """Migrate, load the demo if asked, then serve the web and the worker until stopped."""
    from django.core.management import call_command
    from django.db import connections

    from suivi.shops.models import Shop

    print(f"Database: {_database_description()}", flush=True)
    _migrate(verbosity=0)
    if args.demo and not Shop.objects.exists():
        from suivi.demo.aftersales import demo_aftersales
        from suivi.demo.loader import demo_load
        from suivi.demo.tracking import demo_tracking

        print("First run: loading the demo shops…", flush=True)
        # The banner shows the credentials once the server answers.
        report = demo_load(progress=True)
        print(report.describe(show_credentials=False))
        print(f"Parcels with carrier events: {demo_tracking(report.shops)}", flush=True)
        print(f"Claims opened by the demo customer: {demo_aftersales(report.shops)}", flush=True)
    call_command("collectstatic", interactive=False, verbosity=0)
    _check_port_free(args.host, args.port)
    live_port = args.live_port or (args.port + 1 if args.port < 65535 else args.port - 1)
    _check_port_free(args.host, live_port)
    base = f"http://{_browse_host(args.host)}:{args.port}"
    live_base = f"http://{_browse_host(args.host)}:{live_port}"
    from django.conf import settings

    demo_mail = args.demo and "SUIVI_EMAIL_BACKEND" not in os.environ
    banner = _banner(
        base, args.host, mail_folder=str(settings.EMAIL_FILE_PATH) if demo_mail else ""
    )
    connections.close_all()  # the children open their own

    python = sys.executable
    web = Child(
        "web server",
        [
            python, "-m", "granian", "--interface", "wsgi", "--host", args.host.strip("[]"),
            "--port", str(args.port), "--workers", str(args.workers), "--no-ws",
            "--blocking-threads", str(_threads_per_worker()), "--respawn-failed-workers",
            "--log-level", "warning", "suivi.wsgi:application",
        ],
    )  # fmt: skip
    # Live tracking updates (Server-Sent Events) on their own ASGI process and port, so that
    # open tracking pages never hold WSGI threads.
    live = Child(
        "live-updates server",
        [
            python, "-m", "granian", "--interface", "asgi", "--host", args.host.strip("[]"),
            "--port", str(live_port), "--workers", "1", "--no-ws", "--respawn-failed-workers",
            "--log-level", "warning", "suivi.asgi:application",
        ],
    )  # fmt: skip
    worker = Child("worker", [python, "-m", "suivi.cli", "worker"])
    supervisor = Supervisor([web, live, worker])
    previous = supervisor.install_signal_handlers()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"]}
    # Links in messages point at this server unless the operator set the public URL.
    env.setdefault("SUIVI_BASE_URL", base)
    env.setdefault("SUIVI_LIVE_URL", live_base)
    if args.demo:
        # The demo has no mail server: messages are written as files, never lost.
        env.setdefault("SUIVI_EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
    try:
        supervisor.start(env)
        dead = _wait_until_ready(f"{base}/healthz", supervisor, READY_TIMEOUT_SECONDS)
        if dead is None and not supervisor.stop_requested.is_set():
            print(banner, flush=True)
            dead = supervisor.watch()
        if dead is not None:
            print(
                f"The {dead.name} stopped unexpectedly (exit status {dead.exit_code}): stopping.",
                file=sys.stderr,
                flush=True,
            )
            return 1
        print(f"{supervisor.signal_name or 'Stop'} received: stopping…", flush=True)
        return 0
    finally:
        supervisor.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        print("Stopped.", flush=True)


# --- the parser -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of the ``suivi`` command."""
    parser = argparse.ArgumentParser(
        prog="suivi", description="Suivi, the self-hostable post-purchase platform."
    )
    commands = parser.add_subparsers(dest="command_name", metavar="command", required=True)

    run = commands.add_parser("run", help="migrate, then serve the web site and the worker")
    run.add_argument("--port", type=_port, default=None, help="port (default $PORT or 8000)")
    run.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    run.add_argument("--demo", action="store_true", help="load the demo shops if there is no shop")
    run.add_argument(
        "--live-port",
        type=_port,
        default=None,
        help="port of the live tracking updates (default: the web port + 1)",
    )
    run.add_argument(
        "--workers",
        type=_positive,
        default=min(4, os.cpu_count() or 1),
        help="web server processes (default: CPU count, at most 4)",
    )
    run.set_defaults(handler=cmd_run)

    worker = commands.add_parser("worker", help="run the background jobs in the foreground")
    worker.add_argument("--once", action="store_true", help="run every job once, then exit")
    worker.set_defaults(handler=cmd_worker)

    migrate = commands.add_parser("migrate", help="apply the database migrations")
    migrate.set_defaults(handler=cmd_migrate)

    demo = commands.add_parser("demo", help="load the demo shops, logins, API keys and orders")
    demo.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    demo.add_argument(
        "--orders", type=_not_negative, default=120, help="orders to add (default 120)"
    )
    demo.add_argument("--reset", action="store_true", help="delete the demo shops and logins first")
    demo.add_argument(
        "--bulk",
        action="store_true",
        help="bulk-insert even a small number of orders (automatic above 1000)",
    )
    demo.set_defaults(handler=cmd_demo)

    shop = commands.add_parser("createshop", help="create a shop and print its API key")
    shop.add_argument("--name", required=True, help="the shop's name")
    shop.add_argument("--slug", help="URL name (default: from the name)")
    shop.add_argument("--owner-email", help="give this login the owner role (created if new)")
    shop.add_argument("--owner-password", help="password of a new owner login (default: generated)")
    shop.add_argument("--invoicing", action="store_true", help="issue invoices and credit notes")
    shop.set_defaults(handler=cmd_createshop)

    celery = commands.add_parser(
        "celery", help="run Celery with Suivi's app, e.g. `suivi celery worker -c 4` (scale-out)"
    )
    celery.add_argument("celery_args", nargs=argparse.REMAINDER, help="Celery's own arguments")
    celery.set_defaults(handler=cmd_celery)

    manage = commands.add_parser("manage", help="run a Django management command")
    manage.add_argument("command", nargs=argparse.REMAINDER, help="command and its arguments")
    manage.set_defaults(handler=cmd_manage)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``suivi`` command with *argv* (default: the process arguments)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [CHILD_LAUNCHER]:  # internal, see Child.start
        return _exec_child(argv[1:])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "suivi.settings")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.handler is cmd_run and args.port is None:
        try:
            args.port = _port(os.environ.get("PORT") or str(DEFAULT_PORT))
        except argparse.ArgumentTypeError as exc:
            parser.error(f"PORT: {exc}")

    from django.core.exceptions import ImproperlyConfigured
    from django.db import DatabaseError

    from suivi.core.errors import DomainError

    try:
        _django_setup()
        return int(args.handler(args))
    except UsageError as exc:
        print(f"suivi: {exc}", file=sys.stderr)
        return 2
    except DomainError as exc:
        print(f"suivi: {exc.message}", file=sys.stderr)
        return 2
    except (DatabaseError, ImproperlyConfigured) as exc:
        print(f"suivi: cannot use the database: {exc}".rstrip(), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
