"""GraphQL views: each class renders one Shopify type; its public methods are the supported fields.

Resolution (``executor.resolve_field``): a field resolves to ``view.<fieldName>(**arguments)`` or, for plain
dict results, to ``dict[fieldName]``. A field missing from both is "not supported by the sandbox", and
``supported_fields()`` lets the executor refuse such a document before running anything.
"""
