"""Commands that read the projections: status, tallies, timeline, replay."""
