"""Events about members that other apps subscribe to (so accounts imports none of them)."""

from django.dispatch import Signal

# Sent inside the deactivating transaction with ``user`` and ``actor``: every credential the
# member holds (API tokens, ...) must end with it.
member_deactivated = Signal()
