"""External systems: clients and their local sandboxes."""
