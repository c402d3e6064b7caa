"""`.env.example` names every environment variable the code reads, and nothing it doesn't, so a
fresh machine's copy of it stays true to the code (non-negotiable 1)."""

from __future__ import annotations

import re

from tests.harness import ROOT

# Read by libraries rather than by our code: boto3 takes the S3 credentials from the environment.
READ_BY_LIBRARIES = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DJANGO_SETTINGS_MODULE"}
# The operating system's own, which the code passes on to child processes.
SYSTEM = {"PATH"}
SOURCES = ("config", "media_app", "reports", "notifications", "tests")
READS = (
    re.compile(r'\benv(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]+)"'),  # django-environ in settings
    re.compile(r'os\.environ(?:\.get\(|\[)"([A-Z][A-Z0-9_]+)"'),
    re.compile(r'os\.getenv\("([A-Z][A-Z0-9_]+)"'),
)


def names_read() -> set[str]:
    names: set[str] = set()
    for folder in SOURCES:
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text()
            for pattern in READS:
                names |= set(pattern.findall(text))
    procfile = (ROOT / "Procfile").read_text()
    names |= set(re.findall(r"\$\{(\w+)", procfile))
    names |= set(re.findall(r"(?:^|\s)([A-Z][A-Z0-9_]+)=", procfile))  # VAR=value prefixes
    return names - SYSTEM


def names_documented() -> set[str]:
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))


def test_every_variable_the_code_reads_is_in_env_example():
    assert names_read() - names_documented() == set()


def test_env_example_names_nothing_the_code_ignores():
    assert names_documented() - names_read() - READ_BY_LIBRARIES == set()
