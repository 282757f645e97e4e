"""Shopify Admin API: the client dropsync uses and a schema-faithful local sandbox."""
