"""Shop policies and the delivery promised per carrier and service."""

from __future__ import annotations

import pytest

from suivi.core.errors import InvalidInput, NotFound
from suivi.shops.models import DeliveryPromise
from suivi.shops.policies import (
    PromiseChange,
    policies_update,
    promise_delete,
    promise_list,
    promise_set,
    promised_days,
    promises_apply,
    retention_warning,
)

pytestmark = pytest.mark.django_db


def test_policies_are_saved_with_the_phone_in_e164(shop_a) -> None:
    policies_update(
        shop=shop_a,
        return_window_days=14,
        archive_retention_days=3650,
        support_email="aide@maison-lumiere.fr",
        support_phone="04 72 00 00 00",
    )
    shop_a.refresh_from_db()
    assert (shop_a.return_window_days, shop_a.support_phone) == (14, "+33472000000")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"return_window_days": 400}, "return_window_days"),
        ({"return_window_days": -1}, "return_window_days"),
        ({"archive_retention_days": 364}, "archive_retention_days"),
        ({"support_email": "not-an-email"}, "support_email"),
        ({"support_phone": "123"}, "support_phone"),
    ],
)
def test_bad_policies_change_nothing(shop_a, changes, field) -> None:
    values = {
        "return_window_days": 14,
        "archive_retention_days": 3650,
        "support_email": "",
        "support_phone": "",
    }
    with pytest.raises(InvalidInput) as caught:
        policies_update(shop=shop_a, **(values | changes))
    assert caught.value.field == field
    shop_a.refresh_from_db()
    assert shop_a.return_window_days == 30


def test_retention_below_ten_years_warns() -> None:
    assert retention_warning(365) and retention_warning(3649) and not retention_warning(3650)


def test_promised_days_prefers_the_service_row_then_the_carriers(shop_a, shop_b) -> None:
    promise_set(shop=shop_a, carrier="colissimo", business_days=3)
    promise_set(shop=shop_a, carrier="colissimo", service="Colissimo Expert", business_days=5)
    promise_set(shop=shop_b, carrier="ups", business_days=9)
    assert promised_days(shop_a, "colissimo", "colissimo  expert") == 5
    assert promised_days(shop_a, "colissimo", "Domicile sans signature") == 3
    assert promised_days(shop_a, "colissimo") == 3
    assert promised_days(shop_a, "ups") is None  # shop B's promise is not A's


def test_promise_set_upserts_by_carrier_and_service(shop_a) -> None:
    first = promise_set(shop=shop_a, carrier="dhl", service="Express", business_days=2)
    again = promise_set(shop=shop_a, carrier="DHL", service="express", business_days=1)
    assert again.pk == first.pk and DeliveryPromise.objects.get(pk=first.pk).business_days == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"carrier": "pigeon", "business_days": 2}, "carrier"),
        ({"carrier": "dhl", "business_days": 0}, "business_days"),
        ({"carrier": "dhl", "business_days": 61}, "business_days"),
        ({"carrier": "dhl", "service": "x" * 65, "business_days": 2}, "service"),
    ],
)
def test_bad_promises_are_refused(shop_a, kwargs, field) -> None:
    with pytest.raises(InvalidInput) as caught:
        promise_set(shop=shop_a, **kwargs)
    assert caught.value.field == field
    assert not DeliveryPromise.objects.exists()


def test_a_row_changed_onto_another_rows_key_is_refused(shop_a) -> None:
    promise_set(shop=shop_a, carrier="dhl", business_days=2)
    gls = promise_set(shop=shop_a, carrier="gls", business_days=3)
    with pytest.raises(InvalidInput):
        promise_set(shop=shop_a, carrier="dhl", business_days=4, promise_id=gls.pk)
    assert DeliveryPromise.objects.get(pk=gls.pk).carrier == "gls"


def test_another_shops_promise_is_not_found(shop_a, shop_b) -> None:
    other = promise_set(shop=shop_b, carrier="dhl", business_days=2)
    with pytest.raises(NotFound):
        promise_delete(shop=shop_a, promise_id=other.pk)
    with pytest.raises(NotFound):
        promise_set(shop=shop_a, carrier="ups", business_days=2, promise_id=other.pk)
    assert DeliveryPromise.objects.get(pk=other.pk).carrier == "dhl"


def test_the_table_is_applied_all_or_nothing(shop_a) -> None:
    dhl = promise_set(shop=shop_a, carrier="dhl", business_days=2)
    gls = promise_set(shop=shop_a, carrier="gls", business_days=3)
    promises_apply(
        shop=shop_a,
        changes=[
            PromiseChange("dhl", "", 1, promise_id=dhl.pk),
            PromiseChange("gls", "", 3, promise_id=gls.pk, delete=True),
            PromiseChange("ups", "Standard", 4),
        ],
    )
    assert [(p.carrier, p.service, p.business_days) for p in promise_list(shop=shop_a)] == [
        ("dhl", "", 1), ("ups", "Standard", 4)
    ]  # fmt: skip
    with pytest.raises(InvalidInput) as caught:
        promises_apply(
            shop=shop_a,
            changes=[
                PromiseChange("dhl", "", 9, promise_id=dhl.pk),
                PromiseChange("ups", "Standard", 99),
            ],
        )
    assert caught.value.field == "rows.1.business_days"
    assert DeliveryPromise.objects.get(pk=dhl.pk).business_days == 1
    with pytest.raises(InvalidInput):
        promises_apply(
            shop=shop_a, changes=[PromiseChange("fedex", "", 2), PromiseChange("FedEx", "", 3)]
        )
    assert not DeliveryPromise.objects.filter(carrier="fedex").exists()
