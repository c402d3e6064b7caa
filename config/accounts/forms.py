from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

from . import selectors, zones

EMAIL_TAKEN = "An account with this address exists already. Log in, or reset your password."


def time_zone_field(**kwargs) -> forms.ChoiceField:
    return forms.ChoiceField(
        choices=zones.choices,
        error_messages={"invalid_choice": zones.MESSAGE_UNKNOWN},
        help_text="Pages, emails, exports and scheduled reports show times in this zone.",
        **kwargs,
    )


class SignUpForm(UserCreationForm):
    email = forms.EmailField(required=True, help_text="We send your notifications here.")
    # Preselected from the browser (Intl, in signup.html); settings.TIME_ZONE without JavaScript.
    # Optional (API clients and older pages send none): then settings.TIME_ZONE.
    time_zone = time_zone_field(label="Time zone", initial=settings.TIME_ZONE, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            # A first visit takes the browser's zone; a form sent back with errors keeps the choice.
            self.fields["time_zone"].widget.attrs["data-from-browser"] = ""

    class Meta:
        model = get_user_model()
        fields = ("username", "email")

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        if any(c in email for c in "\r\n"):
            raise forms.ValidationError("Enter a valid email address.")
        if selectors.email_in_use(email=email):
            raise forms.ValidationError(EMAIL_TAKEN)
        return email


class TimeZoneForm(forms.Form):
    time_zone = time_zone_field(label="Time zone")
