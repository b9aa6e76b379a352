"""Projections on the time axes: the replay engine (engine.py) and the folds it drives,
one object per projection (sums.py, states.py), the full-replay short cuts
(shortcuts.py), effective events, the as-of and known-at queries, and the tables the
engine's own SQL needs (search index, countries).

Imports events, projections and tracker.log. Nothing here knows Datasette or the command line.
"""
