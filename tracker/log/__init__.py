"""The append-only log: its schema and hash chain, appends and imports, amendments, and
the checks that prove it unchanged.

Imports events only. Nothing here knows the projections, publishing or the command line.
"""
