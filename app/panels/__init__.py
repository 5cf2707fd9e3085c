"""One module per panel of the page; each has `build_*` (components) and `wire_*` (events)."""
