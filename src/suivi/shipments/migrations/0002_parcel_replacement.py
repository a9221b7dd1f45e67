"""Replacement parcels: ``Parcel.is_replacement`` and ``Parcel.superseded_by``.

Parcels already created by a claim's reshipment are found through their
``shipment.replacement`` order event (its payload names the parcel) and flagged as
replacements. Which parcels they superseded was never recorded: those stay live.
"""

import django.db.models.deletion
from django.db import migrations, models

BATCH = 1000


def flag_replacements(apps, schema_editor):
    OrderEvent = apps.get_model("orders", "OrderEvent")
    Parcel = apps.get_model("shipments", "Parcel")
    ids = set()
    for payload in (
        OrderEvent.objects.filter(type="shipment.replacement")
        .values_list("payload", flat=True)
        .iterator(chunk_size=BATCH)
    ):
        parcel_id = payload.get("parcel_id") if isinstance(payload, dict) else None
        if isinstance(parcel_id, int):
            ids.add(parcel_id)
    ordered = sorted(ids)
    for start in range(0, len(ordered), BATCH):
        Parcel.objects.filter(pk__in=ordered[start : start + BATCH]).update(is_replacement=True)


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0002_order_total_index"),
        ("shipments", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="parcel",
            name="is_replacement",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="parcel",
            name="superseded_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="supersedes",
                to="shipments.parcel",
            ),
        ),
        migrations.RunPython(flag_replacements, migrations.RunPython.noop),
    ]
