"""Insert many unsaved model instances fast: ids reserved up front, then COPY or executemany.

``bulk_create`` spends most of its time compiling SQL: about 10 µs per value, so a
100,000-order data set (≈ 9 million values) took minutes. Here each field's conversion is
chosen once per model, the ids are reserved in one query (so children can point at their
parents without a RETURNING round trip), and the rows go through PostgreSQL's COPY or
SQLite's prepared ``executemany``. Only the demo's bulk path uses it; ``test_replay``
checks that what lands in the database equals what the services write.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Any

from django.db import connection, models
from django.utils import timezone

Adapter = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


def _adapter(field: models.Field[Any, Any]) -> Adapter:
    """Return the conversion Django's ``get_db_prep_save`` applies to *field*, minus the
    per-value dispatch (the values come from our own code and are already of the right type)."""
    ops = connection.ops
    if isinstance(field, models.DateTimeField):
        return ops.adapt_datetimefield_value
    if isinstance(field, models.DateField):
        return ops.adapt_datefield_value
    if isinstance(field, models.JSONField):
        encoder = field.encoder
        return lambda value: ops.adapt_json_value(value, encoder)
    if isinstance(
        field,
        models.CharField
        | models.TextField
        | models.IntegerField
        | models.BooleanField
        | models.DecimalField
        | models.ForeignKey,
    ):
        # Passed as is: the drivers adapt str, int, bool and Decimal themselves.
        return _identity
    return lambda value: field.get_db_prep_save(value, connection)


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """Reserve *count* new primary keys of *model*, above any id ever handed out.

    Must run inside the transaction that inserts the rows: on SQLite the write lock
    (transactions start IMMEDIATE, see settings) keeps other writers out until commit.
    """
    if count == 0:
        return []
    table = model._meta.db_table
    pk = model._meta.pk
    assert pk is not None and pk.column is not None
    column = pk.column
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, column, count],
            )
            return [row[0] for row in cursor.fetchall()]
        if connection.vendor == "sqlite":
            # AUTOINCREMENT tables never reuse ids: start above the highest ever issued.
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            row = cursor.fetchone()
            issued = row[0] if row else 0
            quote = connection.ops.quote_name
            cursor.execute(f"SELECT MAX({quote(column)}) FROM {quote(table)}")  # noqa: S608
            highest = cursor.fetchone()[0] or 0
            start = max(issued, highest) + 1
            return list(range(start, start + count))
    raise NotImplementedError(
        f"Bulk demo loading supports SQLite and PostgreSQL, not {connection.vendor}."
    )


def insert(model: type[models.Model], objs: Sequence[Any]) -> None:
    """Give *objs* new ids and insert them as rows of *model*; auto_now fields get the
    current time. *objs* are unsaved instances, or any objects with the model's attribute
    names (``shop_id``, not ``shop``)."""
    if not objs:
        return
    if not connection.in_atomic_block:
        raise RuntimeError("insert() must run inside a transaction (ids are reserved in it)")
    pk = model._meta.pk
    assert pk is not None
    for obj, new_id in zip(objs, reserve_ids(model, len(objs)), strict=True):
        setattr(obj, pk.attname, new_id)
    now = timezone.now()
    fields = [f for f in model._meta.concrete_fields if not f.generated]
    conversions: list[tuple[int, Adapter]] = []
    for index, field in enumerate(fields):
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            for obj in objs:
                setattr(obj, field.attname, now)
        if (adapt := _adapter(field)) is not _identity:
            conversions.append((index, adapt))
    # One C-level attrgetter per row, then only the values that need converting.
    values = attrgetter(*(f.attname for f in fields))
    rows = []
    for obj in objs:
        row = list(values(obj))
        for index, adapt in conversions:
            row[index] = adapt(row[index])
        rows.append(row)
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = [f.column for f in fields]
    columns = ", ".join(quote(name) for name in names if name)  # concrete: all have one
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            raw = cursor.cursor  # psycopg's own cursor: COPY is 2-3x faster than INSERT
            with raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(fields))
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", rows)  # noqa: S608
