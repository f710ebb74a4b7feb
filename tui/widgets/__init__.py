"""Widgets: they render and post intents; they never do I/O."""
