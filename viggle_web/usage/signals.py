"""Events the ledger announces to the apps above it.

spend_booked   sent after a transaction that inserted ledger entries commits; kwargs:
               ``user_ids`` (the members whose spend changed). Budget alerts subscribe.
"""

from django.dispatch import Signal

spend_booked = Signal()
