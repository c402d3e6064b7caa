from django import forms

from .models import Export

MESSAGE_NOT_AVAILABLE = "This report is not available to you."


class ExportRequestForm(forms.Form):
    kind = forms.ChoiceField(choices=Export.Kind.choices, label="Report")
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if not user.is_staff:
            # Offer only what this user may ask for; clean_kind still refuses the rest by name.
            self.fields["kind"].widget.choices = [
                (value, label) for value, label in Export.Kind.choices if value not in Export.STAFF_KINDS
            ]

    def clean_kind(self):
        kind = self.cleaned_data["kind"]
        if kind in Export.STAFF_KINDS and not self.user.is_staff:
            raise forms.ValidationError(MESSAGE_NOT_AVAILABLE, code="not_available")
        return kind

    def clean(self):
        cleaned = super().clean()
        date_from, date_to = cleaned.get("date_from"), cleaned.get("date_to")
        if date_from and date_to and date_from > date_to:
            self.add_error("date_to", "The end date must be on or after the start date.")
        return cleaned
