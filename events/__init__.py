"""The vocabulary: what an event is (models), what can be wrong with one (problems), dates,
codes and canonical JSON. Imports nothing of the tracker's own: every layer builds on it."""
