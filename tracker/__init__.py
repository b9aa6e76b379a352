"""The tracker engine: the event store, replay on two time axes, the command line and publishing."""
