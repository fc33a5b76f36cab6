"""Helpers the pages of every app share (htmx requests, list filters; their templates in templates/ui/).

The lowest layer: it imports no app of the portal (docs/ARCHITECTURE.md).
"""
