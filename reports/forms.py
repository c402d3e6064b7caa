from django import forms

from . import dates
from .models import Export

MESSAGE_NOT_AVAILABLE = "This report is not available to you."


class ExportRequestForm(forms.Form):
    kind = forms.ChoiceField(choices=Export.Kind.choices, label="Report")
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        # The browser's date picker offers only the dates the form accepts.
        for name in ("date_from", "date_to"):
            self.fields[name].widget.attrs.update(
                min=dates.EARLIEST.isoformat(), max=dates.latest().isoformat()
            )
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

    def clean_date_from(self):
        return self._clean_date("date_from")

    def clean_date_to(self):
        return self._clean_date("date_to")

    def _clean_date(self, name: str):
        day = self.cleaned_data[name]
        error = dates.date_error(day)
        if error:
            raise forms.ValidationError(error, code="out_of_range")
        return day

    def clean(self):
        cleaned = super().clean()
        date_from, date_to = cleaned.get("date_from"), cleaned.get("date_to")
        if date_from and date_to and date_from > date_to:
            self.add_error("date_to", dates.MESSAGE_INVERTED)
        return cleaned
