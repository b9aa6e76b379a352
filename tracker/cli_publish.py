"""Commands that publish the tracker: serve, build."""
