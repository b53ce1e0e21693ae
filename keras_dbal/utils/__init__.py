"""Helpers shared by the whole package (internal)."""
