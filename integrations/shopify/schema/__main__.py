"""``python -m integrations.shopify.schema``: write the cost rules' type index again from the introspection."""

from integrations.shopify.schema import TYPES_FILE, write_types_file

write_types_file()
print(f"wrote {TYPES_FILE}")  # noqa: T201 (a command's one line of output)
