"""Write many rows' changed fields in one statement, without Django's per-row CASE tree.

``QuerySet.bulk_update`` builds ``CASE WHEN id = … THEN …`` per field and row through the
full query compiler: for 50 rows × 11 fields it costs more than the rest of a tracking batch
together (measured in bench/ingest.py). :func:`update_rows` sends the values once:

- PostgreSQL: ``UPDATE t SET f = v.f, … FROM (VALUES (%s::type, …), …) AS v(id, f, …)
  WHERE t.id = v.id`` — every placeholder cast to its column type, so NULLs type-check;
- SQLite: ``executemany`` of ``UPDATE t SET f = %s, … WHERE id = %s`` (no network round
  trips, and SQLite's statement cache makes each execution cheap).

Values go through each field's ``get_db_prep_save`` (JSON, datetimes), like the ORM.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django.db import connection, models


def update_rows(
    model: type[models.Model], objs: Sequence[models.Model], fields: Sequence[str]
) -> int:
    """Write *fields* of *objs* (saved instances of *model*); return the rows given."""
    if not objs:
        return 0
    meta = model._meta
    columns = [cast("models.Field[Any, Any]", meta.get_field(name)) for name in fields]
    pk = meta.pk
    assert pk is not None
    table = connection.ops.quote_name(meta.db_table)
    quote = connection.ops.quote_name
    rows = [
        [pk.get_db_prep_save(obj.pk, connection)]
        + [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in columns]
        for obj in objs
    ]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            types = [pk.db_type(connection)] + [f.db_type(connection) for f in columns]
            # serial/bigserial are not casts: use the plain integer types.
            casts = [
                {"serial": "integer", "bigserial": "bigint"}.get(t or "", t or "") for t in types
            ]
            row = "(" + ", ".join(f"%s::{t}" for t in casts) + ")"
            names = [quote(pk.column or pk.name)] + [quote(f.column or f.name) for f in columns]
            sets = ", ".join(f"{n} = v.{n}" for n in names[1:])
            sql = (
                f"UPDATE {table} AS t SET {sets} FROM (VALUES "  # noqa: S608 - names are ours
                + ", ".join([row] * len(rows))
                + f") AS v({', '.join(names)}) WHERE t.{names[0]} = v.{names[0]}"
            )
            flat: list[Any] = [value for values in rows for value in values]
            cursor.execute(sql, flat)
        else:
            sets = ", ".join(f"{quote(f.column or f.name)} = %s" for f in columns)
            where = quote(pk.column or pk.name)
            sql = f"UPDATE {table} SET {sets} WHERE {where} = %s"  # noqa: S608
            cursor.executemany(sql, [values[1:] + values[:1] for values in rows])
    return len(rows)


def insert_new(
    model: type[models.Model],
    objs: Sequence[models.Model],
    *,
    unique: Sequence[str],
    chunk: int = 500,
) -> set[tuple[Any, ...]]:
    """Insert *objs*, skipping rows that clash on the *unique* fields; return the *unique*
    values of the rows actually inserted (one ``INSERT … ON CONFLICT DO NOTHING RETURNING``
    per chunk, on PostgreSQL and SQLite alike — no existence query before)."""
    meta = model._meta
    fields = [
        f
        for f in meta.concrete_fields
        if not (f.primary_key and isinstance(f, models.AutoField | models.BigAutoField))
    ]
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    columns = ", ".join(quote(f.column or f.name) for f in fields)
    keys = [cast("models.Field[Any, Any]", meta.get_field(name)) for name in unique]
    conflict = ", ".join(quote(f.column or f.name) for f in keys)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    inserted: set[tuple[Any, ...]] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(objs), chunk):
            part = objs[start : start + chunk]
            values = [
                f.get_db_prep_save(f.pre_save(obj, add=True), connection)
                for obj in part
                for f in fields
            ]
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES "  # noqa: S608 - names are ours
                + ", ".join([row] * len(part))
                + f" ON CONFLICT ({conflict}) DO NOTHING RETURNING {conflict}",
                values,
            )
            inserted.update(tuple(r) for r in cursor.fetchall())
    return inserted
