"""Fixed vocabularies the generator draws from: products, people, places, carriers, currencies."""

from __future__ import annotations

from decimal import Decimal

# (title, vendor, base price in the shop currency, variant titles)
PRODUCTS: tuple[tuple[str, str, Decimal, tuple[str, ...]], ...] = (
    ("Wireless Earbuds Pro", "Shenzhen Audio Co.", Decimal("24.90"), ("Black", "White")),
    ("Magnetic Phone Holder", "AutoGear Store", Decimal("12.50"), ("Default Title",)),
    ("LED Strip Lights 5m", "BrightHome Official", Decimal("18.00"), ("RGB", "Warm White")),
    ("Silicone Baking Mat Set", "KitchenPro Store", Decimal("15.75"), ("2 pcs", "3 pcs")),
    ("Yoga Resistance Bands", "FitLife Factory", Decimal("9.99"), ("Light", "Medium", "Heavy")),
    ("Minimalist Quartz Watch", "TimeZone Store", Decimal("32.00"), ("Silver", "Gold", "Black")),
    ("Pet Grooming Glove", "HappyPaws Shop", Decimal("8.40"), ("Left", "Right")),
    ("Portable Blender 380ml", "FreshMix Official", Decimal("27.30"), ("Pink", "Blue", "Green")),
    ("Cotton Oversized Hoodie", "UrbanWear Store", Decimal("29.90"), ("S", "M", "L", "XL")),
    ("Stainless Water Bottle", "EcoSip Factory", Decimal("14.20"), ("500ml", "750ml")),
    ("Ring Light 10in", "StudioMate Store", Decimal("21.60"), ("With tripod", "Clip-on")),
    ("Car Seat Gap Filler", "AutoGear Store", Decimal("11.10"), ("Black", "Beige")),
)

FIRST_NAMES = ("Emma", "Liam", "Olivia", "Noah", "Ava", "Lucas", "Mia", "Leon", "Sofia", "Jack", "Chloe", "Mateo")
LAST_NAMES = ("Smith", "Müller", "Martin", "Brown", "Rossi", "García", "Wilson", "Dubois", "Taylor", "Novak")
STREETS = ("Main St", "High Street", "Rue de Rivoli", "Hauptstraße", "Queen St", "Elm Avenue", "Calle Mayor")

# (city, country code, province code, tax rate)
COUNTRIES: tuple[tuple[str, str, str, Decimal], ...] = (
    ("Austin", "US", "TX", Decimal("0.0825")),
    ("Portland", "US", "OR", Decimal("0.00")),
    ("Toronto", "CA", "ON", Decimal("0.13")),
    ("London", "GB", "ENG", Decimal("0.20")),
    ("Berlin", "DE", "BE", Decimal("0.19")),
    ("Paris", "FR", "IDF", Decimal("0.20")),
    ("Sydney", "AU", "NSW", Decimal("0.10")),
)

# Presentment currencies by country, with the shop-to-presentment rate (shop currency USD).
PRESENTMENT_RATES: dict[str, tuple[tuple[str, Decimal], ...]] = {
    "US": (("USD", Decimal("1")),),
    "CA": (("CAD", Decimal("1.36")), ("USD", Decimal("1"))),
    "GB": (("GBP", Decimal("0.79")),),
    "DE": (("EUR", Decimal("0.92")),),
    "FR": (("EUR", Decimal("0.92")),),
    "AU": (("AUD", Decimal("1.52")), ("USD", Decimal("1"))),
}

# (company, tracking number prefix, tracking URL template)
CARRIERS: tuple[tuple[str, str, str], ...] = (
    ("Cainiao", "LP00", "https://global.cainiao.com/detail.htm?mailNoList={number}"),
    ("YunExpress", "YT", "https://www.yuntrack.com/parcelTracking?id={number}"),
    ("4PX", "4PX", "https://track.4px.com/#/result/0/{number}"),
    ("China Post", "LX", "https://t.17track.net/en#nums={number}"),
)
