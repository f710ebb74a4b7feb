"""Screens: each decides what the intents of its widgets mean."""
