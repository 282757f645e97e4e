"""Supplier deadlines: a business-day calendar, the deadline rules, and the alerts a person must see."""
