"""``MailingAddress`` dicts of an order's shipping address (shared by the order, customer, dispute and
webhook payload builders, so none of them imports another for it)."""

from __future__ import annotations

from typing import Any

from sandboxes.shopify.model import Order


def address_dict(order: Order) -> dict[str, Any]:
    address = order.shipping_address
    return {
        "firstName": address.first_name,
        "lastName": address.last_name,
        "name": f"{address.first_name} {address.last_name}",
        "address1": address.address1,
        "address2": None,
        "city": address.city,
        "province": address.province,
        "provinceCode": address.province_code,
        "country": address.country,
        "countryCode": address.country_code,
        "countryCodeV2": address.country_code,
        "zip": address.zip,
        "phone": address.phone,
        "company": None,
        **mailing_address_extras(order),
    }


def mailing_address_extras(order: Order) -> dict[str, Any]:
    """The MailingAddress keys beyond the postal ones (``address_dict`` adds them)."""
    address = order.shipping_address
    # Built for every rendered address (bulk exports too): plain f-strings, no joins.
    area = f"{address.city}, {address.province_code}" if address.province_code else address.city
    return {
        "id": f"gid://shopify/MailingAddress/{order.customer.id}?model_name=CustomerAddress",
        "formatted": [address.address1, f"{area} {address.zip}", address.country],
        "formattedArea": f"{area}, {address.country}",
        "latitude": None,
        "longitude": None,
        "coordinatesValidated": False,
        "timeZone": None,
    }
