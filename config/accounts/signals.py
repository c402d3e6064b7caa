"""What accounts tell the rest of the site. Sent inside the transaction that made the change, so a
receiver's writes (a notification, its email job) commit or roll back with it.

The notifications app listens to both (notifications/apps.py): it holds every email the site sends.
A system check (checks.py) warns when nothing listens, since then no welcome or reset email goes.
"""

from django.dispatch import Signal

# user=<the new account>. The receiver sends the welcome email, which carries the verification link.
user_signed_up = Signal()
# user=<an account whose address is unconfirmed>. The receiver emails a new verification link.
verification_requested = Signal()
# user=<the one account whose verified address was given>. The receiver emails a reset link.
password_reset_requested = Signal()
# user=<the account>, time_zone=<its new IANA name>. Apps that keep times in the person's zone
# (reports' schedules) move them along.
time_zone_changed = Signal()
