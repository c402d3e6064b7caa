from __future__ import annotations

import posixpath
import re
import unicodedata

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat

from . import imaging
from .models import Image
from .services import Upload

TITLE_MAX = Image._meta.get_field("title").max_length


def clean_filename(name: str) -> str:
    """A client's file name made safe to show: no path parts, no control characters."""
    name = posixpath.basename((name or "").replace("\\", "/"))
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    return re.sub(r"\s+", " ", name).strip()


def title_from_filename(name: str) -> str:
    """The default title: the file's name, cleaned, without its extension."""
    name = clean_filename(name)
    stem, ext = posixpath.splitext(name)
    if stem and len(ext) <= 5:
        name = stem
    return name.strip(" .")[:TITLE_MAX] or "Untitled"


def _size(n: int) -> str:
    return filesizeformat(n).replace("\xa0", " ")  # plain spaces: these messages go into JSON too


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PicturesField(forms.Field):
    """One or several files under one field name. Checks only what the request can afford."""

    widget = MultipleFileInput

    def clean(self, data, initial=None) -> list[UploadedFile]:
        files = [f for f in (data if isinstance(data, (list, tuple)) else [data]) if f]
        if not files and self.required:
            raise forms.ValidationError("Choose a picture to upload.", code="required")
        return files


class UploadForm(forms.Form):
    image = PicturesField(
        label="Pictures",
        required=False,
        help_text=(
            f"{imaging.ACCEPTED_NAMES}; up to {_size(settings.MEDIA_MAX_UPLOAD_BYTES)} "
            "each. You can choose several."
        ),
        widget=MultipleFileInput(attrs={"accept": imaging.ACCEPT_ATTRIBUTE}),
    )
    title = forms.CharField(
        max_length=TITLE_MAX,
        required=False,
        help_text="Optional. Without one, the file's name is used.",
    )

    def __init__(
        self, *args, oversize: list[str] | None = None, digests: list[str] | None = None, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        # Files the upload handler dropped while reading the body: too large to keep.
        self.oversize = oversize or []
        # The SHA-256 of each file it kept, in the order of the files (media_app.uploads).
        self.digests = digests or []

    def clean_title(self) -> str:
        title = "".join(c for c in self.cleaned_data["title"] if unicodedata.category(c)[0] != "C")
        return re.sub(r"\s+", " ", title).strip()

    def clean_image(self) -> list[UploadedFile]:
        files = self.cleaned_data["image"]
        limit = settings.MEDIA_MAX_UPLOAD_BYTES
        errors = [
            f"{_shown(name)}: this file is larger than the {_size(limit)} limit." for name in self.oversize
        ]
        if not files and not errors:
            raise forms.ValidationError("Choose a picture to upload.", code="required")
        probes = []
        for f in files:
            if f.size == 0:
                errors.append(f"{_shown(f.name)}: the file is empty.")
            elif f.size > limit:
                errors.append(f"{_shown(f.name)}: this file is larger than the {_size(limit)} limit.")
            else:
                try:
                    probes.append((f, imaging.probe(f, max_pixels=settings.MEDIA_MAX_PIXELS)))
                except imaging.ImageRejected as exc:
                    errors.append(f"{_shown(f.name)}: {exc.message}")
        if errors:
            raise forms.ValidationError(errors)
        self.probes = probes
        aligned = len(self.digests) == len(files)
        self.sha256 = {id(f): d for f, d in zip(files, self.digests, strict=False)} if aligned else {}
        return files

    def uploads(self) -> list[Upload]:
        title = self.cleaned_data.get("title", "")
        return [
            Upload(
                file=f,
                probe=probe,
                title=title or title_from_filename(f.name),
                sha256=self.sha256.get(id(f), ""),
            )
            for f, probe in self.probes
        ]


def _shown(name: str) -> str:
    return clean_filename(name)[:80] or "A file"


class RenameForm(forms.Form):
    title = forms.CharField(
        label="Title",
        max_length=TITLE_MAX,
        error_messages={"required": "Give the picture a title."},
    )

    def clean_title(self) -> str:
        title = "".join(c for c in self.cleaned_data["title"] if unicodedata.category(c)[0] != "C")
        title = re.sub(r"\s+", " ", title).strip()
        if not title:
            raise forms.ValidationError("Give the picture a title.", code="required")
        return title


class FocusForm(forms.Form):
    """The focal point, as fractions of the upright width (x) and height (y), 0 at the top left."""

    x = forms.FloatField(
        label="Across",
        min_value=0.0,
        max_value=1.0,
        widget=forms.NumberInput(attrs={"type": "range", "step": "0.01", "min": "0", "max": "1"}),
        error_messages={"required": "Say where across the picture the subject is."},
    )
    y = forms.FloatField(
        label="Down",
        min_value=0.0,
        max_value=1.0,
        widget=forms.NumberInput(attrs={"type": "range", "step": "0.01", "min": "0", "max": "1"}),
        error_messages={"required": "Say where down the picture the subject is."},
    )
