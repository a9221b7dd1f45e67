"""``suivi manage archive_verify [--shop SLUG]``: check the proofs-of-purchase chains."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from suivi.archive.verification import verify_chain
from suivi.shops.models import Shop


class Command(BaseCommand):
    help = (
        "Recompute every archived document's chain hash and file digest; print each shop's"
        " report and exit with status 1 if anything was tampered with."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--shop", metavar="SLUG", help="only this shop (default: all)")
        parser.add_argument(
            "--skip-files", action="store_true", help="check the rows only, not the files"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        shops = Shop.objects.order_by("pk")
        if options["shop"]:
            shops = shops.filter(slug=options["shop"])
            if not shops.exists():
                raise CommandError(f"No shop {options['shop']!r}.", returncode=2)
        tampered = 0
        for shop in shops.iterator():
            report = verify_chain(shop, check_files=not options["skip_files"])
            for line in report.lines():
                self.stdout.write(line)
            tampered += not report.ok
        if tampered:
            raise CommandError(f"Tampering detected in {tampered} shop(s).", returncode=1)
        self.stdout.write("All chains verify.")
