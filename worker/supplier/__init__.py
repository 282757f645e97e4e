"""The supplier side: linking supplier orders, recording what happened, polling AliExpress, disputes."""
