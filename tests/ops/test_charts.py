"""The SVG charts are a pure function: numbers in, markup out."""

import re
import xml.etree.ElementTree as ET

from config.ops import charts

SVG = "{http://www.w3.org/2000/svg}"


def bars(svg: str) -> list[dict]:
    root = ET.fromstring(svg)  # noqa: S314 - our own markup; raises unless well-formed
    return [rect.attrib for rect in root.iter(f"{SVG}rect") if rect.get("class") == "bar"]


def test_nice_ceiling():
    assert [charts.nice_ceiling(v) for v in (0, 0.3, 1, 3, 7, 10, 11, 240, 5000)] == [
        1,
        0.5,
        1,
        5,
        10,
        10,
        20,
        500,
        5000,
    ]


def test_bar_heights_are_proportional_and_missing_days_draw_nothing():
    svg = charts.bar_chart([("Mon", 10), ("Tue", 5), ("Wed", None), ("Thu", 0)], title="Uploads")
    drawn = bars(svg)
    assert [b["data-label"] for b in drawn] == ["Mon", "Tue", "Wed", "Thu"]
    assert [b["data-value"] for b in drawn] == ["10", "5", "", "0"]
    heights = [float(b["height"]) for b in drawn]
    assert heights[0] == 2 * heights[1] > 0 and heights[2] == heights[3] == 0
    assert "Wed: no data" in svg and 'aria-label="Uploads"' in svg


def test_labels_are_escaped():
    svg = charts.bar_chart([("<script>alert(1)</script>", 1)], title='"quoted" & <b>')
    assert "<script>" not in svg and "<b>" not in svg
    ET.fromstring(svg)  # noqa: S314 - our own output


def test_line_breaks_on_a_day_without_data():
    svg = charts.line_chart([("a", 100), ("b", 200), ("c", None), ("d", 50), ("e", 60)], title="p95")
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    lines = [p for p in root.iter(f"{SVG}polyline")]
    assert len(lines) == 2
    points = [c.attrib for c in root.iter(f"{SVG}circle")]
    assert [p["data-value"] for p in points] == ["100", "200", "50", "60"]
    assert "b: 200" in svg


def test_empty_series_renders_an_empty_frame():
    svg = charts.bar_chart([], title="Nothing yet")
    assert bars(svg) == [] and re.search(r"<svg[^>]+viewBox", svg)
