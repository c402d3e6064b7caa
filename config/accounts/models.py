from django.conf import settings
from django.db import models
from django.db.models.functions import Lower


class EmailAddress(models.Model):
    """An account's email address and whether its owner has proved they read it.

    Django's ``auth.User`` is not ours to constrain, so the address an account may be emailed at
    lives here, unique case-insensitively across all accounts (a database constraint: two sign-ups
    racing for ``ALICE@`` and ``alice@`` cannot both win). ``User.email`` is kept equal to it by
    :mod:`config.accounts.services`; an account whose ``User.email`` no longer matches its row (an
    admin typed a new one) counts as unverified until the new address is confirmed.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_address"
    )
    email = models.EmailField(max_length=254)
    # Set when the link in the welcome email was followed; until then only that link is emailed.
    verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "email address"
        verbose_name_plural = "email addresses"
        constraints = [models.UniqueConstraint(Lower("email"), name="accounts_email_unique_ci")]

    def __str__(self) -> str:
        return f"{self.email} ({'verified' if self.verified_at else 'unverified'})"

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None


class Profile(models.Model):
    """What an account keeps about its person beside auth's columns: for now their time zone.

    Every app reads it through :func:`config.accounts.selectors.time_zone_for` (or the zone the
    middleware activated for a request), never by importing another app. No row means
    ``settings.TIME_ZONE``: accounts made before this field, or by ``createsuperuser``.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    # An IANA name ("Europe/Berlin"), checked against the zones this machine knows (zones.py).
    time_zone = models.CharField(max_length=64, default=settings.TIME_ZONE)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user_id}: {self.time_zone}"
