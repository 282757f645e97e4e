"""AliExpress Open Platform (dropshipping): signed client, status model and a local sandbox."""
