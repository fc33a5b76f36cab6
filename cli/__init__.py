"""The command-line client (`portal-upload`): it speaks the public API over HTTP only.

It imports nothing from Django or the portal's apps, so it runs on a machine with only `requests`
(docs/ARCHITECTURE.md).
"""
