"""Stacks of the reference app: they only compose constructs_batch constructs and wire them."""
