from django import forms

from .models import ALWAYS_EMAILED, Kind

HELP = {
    Kind.WELCOME: "Account emails, such as the welcome email.",
    Kind.IMAGES_READY: "When a batch of uploaded photos has been processed.",
    Kind.IMAGES_FAILED: "When some photos in a batch could not be processed.",
    Kind.EXPORT_READY: "When an export (Excel or CSV) is ready to download (the link is in the email).",
    Kind.EXPORT_FAILED: "When an Excel export could not be built.",
    Kind.GENERAL: "Anything else we need to tell you.",
}


class PreferencesForm(forms.Form):
    """One checkbox per kind: email on or off. In-app notifications are always on."""

    def __init__(self, *args, initial_choices: dict[str, bool], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for kind, label in Kind.choices:
            if kind in ALWAYS_EMAILED:
                continue
            self.fields[kind] = forms.BooleanField(
                label=label,
                required=False,
                initial=initial_choices.get(kind, True),
                help_text=HELP.get(kind, ""),
            )

    def email_choices(self) -> dict[str, bool]:
        return {kind: bool(self.cleaned_data.get(kind)) for kind in Kind.values if kind in self.fields}
