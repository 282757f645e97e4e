"""The REST Admin API, order-sync subset: ``api`` (routes, checks, answers), ``listing`` (filters and
``page_info`` cursor pages over the GraphQL listing), ``resources`` (REST JSON bodies)."""
