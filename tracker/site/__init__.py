"""The tracker's own Datasette plugin, registered by `tracker serve` (see plugin.py)."""
