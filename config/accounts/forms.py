from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

from . import selectors

EMAIL_TAKEN = "An account with this address exists already. Log in, or reset your password."


class SignUpForm(UserCreationForm):
    email = forms.EmailField(required=True, help_text="We send your notifications here.")

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
