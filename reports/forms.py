"""The export form and the schedule form: a kind, a file format, its columns and its filters.

Two ways to send the choice, one meaning:

- API clients: ``columns`` (repeated, or one comma-separated value; the order given is the file's),
  and the filters ``state``, ``format`` (image format) and, for staff, ``owner`` (a username);
- the page: one fieldset per kind (``columns:<kind>`` checkboxes with ``position:<kind>:<key>``
  numbers that order them, ``state:<kind>``, …), so it works without JavaScript; only the chosen
  kind's fieldset is read.

A column or filter the kind does not have, a value it does not know, or a field no form has is an
error (the view answers 400 with the sentence). The worker checks the same rules again.
"""

from __future__ import annotations

from django import forms

from . import dates, layouts, selectors
from .models import Export, Format, ReportSchedule

MESSAGE_NOT_AVAILABLE = "This report is not available to you."
MESSAGE_NO_COLUMN = "Choose at least one column."
MESSAGE_UNKNOWN_FIELD = "{names}: no such field. The form takes: {known}."
FILTER_NAMES = (layouts.STATE, layouts.FORMAT, layouts.OWNER)
BASE_FIELDS = ("csrfmiddlewaretoken", "kind", "file_format", "columns", *FILTER_NAMES)


def _values(data, name: str) -> list[str]:
    """A repeated field, or one comma-separated value, in the order sent; blanks dropped."""
    found = []
    for raw in data.getlist(name) if hasattr(data, "getlist") else [data.get(name, "")]:
        found.extend(part.strip() for part in str(raw).split(","))
    return [v for v in found if v]


def page_field_names() -> set[str]:
    """Every field the page's per-kind fieldsets may send."""
    names = set()
    for kind, report in layouts.REPORTS.items():
        names.add(f"columns:{kind}")
        names.update(f"position:{kind}:{key}" for key in report.column_keys())
        names.update(f"{name}:{kind}" for name in report.filters)
    return names


class ChoiceForm(forms.Form):
    """What an export holds: kind, file format, columns (chosen and ordered) and filters."""

    kind = forms.ChoiceField(choices=Export.Kind.choices, label="Report")
    file_format = forms.ChoiceField(choices=Format.choices, label="File", required=False)
    extra_fields: tuple[str, ...] = ()

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

    def clean_file_format(self):
        return self.cleaned_data.get("file_format") or Format.XLSX

    def clean(self):
        cleaned = super().clean()
        known = set(BASE_FIELDS) | set(self.extra_fields) | page_field_names()
        # A position for a column the kind lacks is that column's error (below), not a field's.
        positions = tuple(f"position:{kind}:" for kind in layouts.REPORTS)
        unknown = sorted(name for name in self.data if name not in known and not name.startswith(positions))
        if unknown:
            # The sentence names every field a client may send for any kind.
            raise forms.ValidationError(
                MESSAGE_UNKNOWN_FIELD.format(
                    names=", ".join(repr(n) for n in unknown),
                    known=", ".join(f for f in (*BASE_FIELDS[1:], *self.extra_fields)),
                ),
                code="unknown_field",
            )
        kind = cleaned.get("kind")
        if not kind:
            return cleaned
        columns, filters = self._choice(kind)
        error = selectors.columns_error(kind, columns)
        if error:
            self.add_error(None, forms.ValidationError(error, code="unknown_column"))
        error = selectors.filters_error(kind, filters, is_staff=self.user.is_staff)
        if error:
            self.add_error(None, forms.ValidationError(error, code="unknown_filter"))
        cleaned["columns"], cleaned["filters"] = columns, filters
        return cleaned

    def _choice(self, kind: str) -> tuple[list[str], dict]:
        data = self.data
        page = f"columns:{kind}" in data or any(f"{n}:{kind}" in data for n in FILTER_NAMES)
        if not page:
            columns = _values(data, "columns")
            filters = {n: _values(data, n) for n in (layouts.STATE, layouts.FORMAT) if _values(data, n)}
            owner = str(data.get(layouts.OWNER, "")).strip()
        else:
            chosen = _values(data, f"columns:{kind}")
            if not chosen:
                self.add_error(None, forms.ValidationError(MESSAGE_NO_COLUMN, code="no_column"))
            order = {key: self._position(kind, key, i) for i, key in enumerate(chosen)}
            columns = sorted(chosen, key=lambda k: order[k])
            filters = {
                n: _values(data, f"{n}:{kind}")
                for n in (layouts.STATE, layouts.FORMAT)
                if _values(data, f"{n}:{kind}")
            }
            owner = str(data.get(f"{layouts.OWNER}:{kind}", "")).strip()
            report = layouts.REPORTS.get(kind)
            if report is not None and tuple(columns) == report.column_keys():
                columns = []  # all of them, in the kind's order: stored as "all"
        if owner:
            filters[layouts.OWNER] = owner
        return columns, filters

    def _position(self, kind: str, key: str, default: int) -> float:
        raw = str(self.data.get(f"position:{kind}:{key}", "")).strip()
        try:
            return float(raw) if raw else default
        except ValueError:
            return default

    def columns_for_page(self, current: tuple[str, list, dict] | None = None) -> list[dict]:
        """Each kind's fieldset: its columns (checked or not, with their positions) and filters.
        ``current`` (kind, columns, filters) fills an unbound form, as when editing a schedule."""
        groups = []
        for kind, label in self.fields["kind"].widget.choices:
            report = layouts.REPORTS[kind]
            mine = current is not None and current[0] == kind
            now_filters = current[2] if mine else {}
            if self.is_bound and f"columns:{kind}" in self.data:
                chosen = _values(self.data, f"columns:{kind}")
            elif mine and current[1]:
                chosen = list(current[1])
            else:
                chosen = list(report.column_keys())
            # Chosen columns first, in their order, then the others in the kind's order.
            ordered = [c for k in chosen for c in report.columns if c.key == k]
            ordered += [c for c in report.columns if c.key not in chosen]
            filters = []
            for name, allowed in report.filters.items():
                if name == layouts.OWNER:
                    if self.user.is_staff:
                        value = now_filters.get(name, "")
                        if self.is_bound:
                            value = self.data.get(f"owner:{kind}", "")
                        filters.append({"name": name, "label": "Owner (username)", "text": value})
                    continue
                picked = _values(self.data, f"{name}:{kind}") if self.is_bound else now_filters.get(name, [])
                filters.append(
                    {
                        "name": name,
                        "label": layouts.FILTER_LABELS[name],
                        "options": [
                            {
                                "value": v,
                                "label": selectors.filter_word(kind, name, v),
                                "checked": v in picked,
                            }
                            for v in allowed
                        ],
                    }
                )
            groups.append(
                {
                    "kind": kind,
                    "label": label,
                    "columns": [
                        {"key": c.key, "title": c.title, "checked": c.key in chosen, "position": i + 1}
                        for i, c in enumerate(ordered)
                    ],
                    "filters": filters,
                }
            )
        return groups


class ExportRequestForm(ChoiceForm):
    extra_fields = ("date_from", "date_to")
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, user=user, **kwargs)
        # The browser's date picker offers only the dates the form accepts.
        for name in ("date_from", "date_to"):
            self.fields[name].widget.attrs.update(
                min=dates.EARLIEST.isoformat(), max=dates.latest().isoformat()
            )

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


class ScheduleForm(ChoiceForm):
    """ "Every Monday at 08:00 in my time zone, email me <kind> for the last 7 days"."""

    frequency = forms.ChoiceField(choices=ReportSchedule.Frequency.choices, label="How often")
    at = forms.TimeField(label="At", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    day_of_week = forms.TypedChoiceField(
        choices=ReportSchedule.Weekday.choices,
        coerce=int,
        required=False,
        label="On (weekly)",
        initial=ReportSchedule.Weekday.MONDAY,
    )
    day_of_month = forms.IntegerField(
        min_value=1, max_value=28, required=False, initial=1, label="Day of the month (monthly, 1-28)"
    )
    range_days = forms.IntegerField(
        min_value=1, max_value=366, initial=7, label="Covering the last … days (the day of the run included)"
    )
    extra_fields = ("frequency", "at", "day_of_week", "day_of_month", "range_days")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("day_of_week") in (None, ""):
            cleaned["day_of_week"] = ReportSchedule.Weekday.MONDAY
        if not cleaned.get("day_of_month"):
            cleaned["day_of_month"] = 1
        return cleaned
