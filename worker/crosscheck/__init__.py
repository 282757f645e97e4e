"""Cross-checks: Shopify's order, the ledger and the AliExpress order must tell the same story."""
