"""Connect the archive to the worker: collect new proofs, catch up, purge expired files."""

from __future__ import annotations

COLLECT_BATCH = 50


def collect_recent() -> int:
    """Worker job: archive the recent proofs not archived yet."""
    from .collect import collect

    return collect(COLLECT_BATCH)


def catch_up() -> int:
    """Worker job: archive older proofs the recent window missed (a worker was down)."""
    from .collect import collect

    return collect(COLLECT_BATCH * 10, full=True)


def purge() -> int:
    """Worker job: delete files past their retention, and files no row names."""
    from .services import purge_expired, sweep_orphans

    return purge_expired() + sweep_orphans()


def connect() -> None:
    """Called once from ``ArchiveConfig.ready()``."""
    from suivi.core.worker import register_job

    register_job("archive.collect", 30.0, collect_recent)
    register_job("archive.catch_up", 86400.0, catch_up)
    register_job("archive.purge", 3600.0, purge)
