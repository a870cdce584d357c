"""Offline DISC21-like copy-detection benchmark: edits of real photographs (Django-free)."""
