"""One set of words for job states and kinds (issue 22, point 7), the pills' contrast, and the
notification sentences people read."""

from __future__ import annotations

import re

import pytest

from config.core import words
from config.core.models import Job
from media_app.services import _batch_body, _batch_title
from tests.harness import ROOT


def test_every_state_has_one_of_the_five_words():
    assert {words.state_word(s) for s in Job.State.values} == {
        "Queued",
        "Running",
        "Ready",
        "Failed",
        "Cancelled",
    }
    assert words.state_word("SUCCESS") == "Ready" and words.state_word("RETRY") == "Running"


def test_job_kinds_have_human_names_and_housekeeping_is_marked():
    assert words.kind_name("media.compress") == "Picture compression"
    assert words.kind_name("reports.export") == "Report export"
    assert words.kind_name("notifications.email") == "Email"
    assert words.kind_name("ops.cleanup") == "Cleanup"
    assert set(words.housekeeping_kinds()) == {"ops.cleanup", "ops.statistics", "ops.redispatch"}
    assert words.kind_name("some.unknown") == "some.unknown"


def test_templates_use_the_filters():
    from django.template import Context, Template

    out = Template("{% load words %}{{ s|state_word }} / {{ k|kind_name }}").render(
        Context({"s": "FAILURE", "k": "reports.export"})
    )
    assert out == "Failed / Report export"


@pytest.mark.parametrize(
    ("ready", "failed", "title", "body"),
    [
        (1, 0, "Your picture is ready", "Your picture is ready."),
        (4, 0, "Your 4 pictures are ready", "All 4 pictures from your upload are ready."),
        (3, 1, "3 of 4 pictures are ready", "3 of 4 pictures are ready; 1 could not be read."),
        (1, 1, "1 of 2 pictures is ready", "1 of 2 pictures is ready; 1 could not be read."),
        (0, 1, "Your picture could not be read", None),
        (
            0,
            3,
            "None of your 3 pictures could be read",
            "None of the 3 pictures in your upload could be read.",
        ),
    ],
)
def test_batch_notifications_are_sentences(ready, failed, title, body):
    assert _batch_title(ready, failed) == title
    if body:
        assert _batch_body(ready, failed) == body


# --- Contrast of the state pills (WCAG 2.x AA: 4.5:1 for their small bold text) --------------------


def _hex(value: str) -> tuple[float, float, float]:
    value = value.strip().lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    return tuple(int(value[i : i + 2], 16) / 255 for i in (0, 2, 4))


def luminance(colour: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in _hex(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def css_blocks(css: str) -> list[tuple[str, str]]:
    return re.findall(r"([^{}]+)\{([^{}]*)\}", re.sub(r"/\*.*?\*/", "", css, flags=re.S))


def pill_colours(css: str) -> dict[str, dict[str, str]]:
    """For each theme (light; dark from the prefers-color-scheme block): each .state-* class's
    background and text colour, var(--x) resolved against that theme's :root."""
    dark_at = css.find("@media (prefers-color-scheme: dark)")
    assert dark_at > 0, "app.css has no dark theme"
    themes = {}
    for theme, text in (("light", css[:dark_at]), ("dark", css)):
        variables: dict[str, str] = {}
        pills: dict[str, dict[str, str]] = {}
        for selector, body in css_blocks(text):
            decls = dict(
                (k.strip(), v.strip()) for k, v in (d.split(":", 1) for d in body.split(";") if ":" in d)
            )
            if selector.strip().endswith(":root"):
                variables.update({k: v for k, v in decls.items() if k.startswith("--")})
            for sel in selector.split(","):
                sel = sel.strip()
                if sel == ".state" or sel.startswith(".state-"):
                    pills.setdefault(sel, {}).update(decls)
        base = pills.pop(".state")

        def resolve(v: str, variables: dict[str, str] = variables) -> str:
            m = re.fullmatch(r"var\((--[\w-]+)\)", v)
            return resolve(variables[m.group(1)], variables) if m else v

        themes[theme] = {
            sel: {
                "bg": resolve(d.get("background", base["background"])),
                "fg": resolve(d.get("color", base.get("color", "var(--fg)"))),
            }
            for sel, d in {".state": base, **pills}.items()
        }
    return themes


def test_state_pills_pass_wcag_aa_in_both_themes():
    css = (ROOT / "config/core/static/core/app.css").read_text()
    themes = pill_colours(css)
    checked = 0
    for theme, pills in themes.items():
        assert {".state-SUCCESS", ".state-FAILURE", ".state-QUEUED", ".state-CANCELLED"} <= set(pills)
        for sel, c in pills.items():
            ratio = contrast(c["bg"], c["fg"])
            assert ratio >= 4.5, f"{theme} {sel}: {c['fg']} on {c['bg']} is {ratio:.2f}:1"
            checked += 1
    assert checked >= 12


def test_the_contrast_check_catches_the_old_green():
    assert contrast("#e7f6ec", "#1f8a4c") < 4.5
