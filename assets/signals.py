"""What the assets app announces to apps above it, which it never imports (docs/ARCHITECTURE.md, "Layers")."""

from django.dispatch import Signal

# An asset reached Ready or Upload Error (sent with `asset`): its upload session may now be complete.
settled = Signal()
