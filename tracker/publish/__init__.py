"""Publishing with Datasette: what a served or built database adds, `tracker build`, the
Datasette instance with its metadata, plugin and limits.

Imports events, tracker.log and tracker.replay. Nothing here knows the command line.
"""
