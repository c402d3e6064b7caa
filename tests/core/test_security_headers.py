"""Content-Security-Policy and Permissions-Policy on every response, in every settings module."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent

# Pages, a 404 (our own, or Django's technical one under DEBUG), a JSON 404 for an anonymous
# client, the admin's login and a static file: none of them needs a database or a broker.
PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client, override_settings
# Production's manifest storage needs collectstatic; the headers don't depend on it.
plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
override_settings(STORAGES={**settings.STORAGES, "staticfiles": plain}).enable()
client, out = Client(), {}
for path, accept in [("/accounts/login/", "text/html"), ("/no-such-page/", "text/html"),
                     ("/tasks/x/", "application/json"), ("/admin/login/", "text/html"),
                     ("/static/core/app.css", "text/css")]:
    r = client.get(path, secure=True, HTTP_ACCEPT=accept)
    out[path] = [r.status_code, r.get("Content-Security-Policy"), r.get("Permissions-Policy")]
print(json.dumps(out))
"""

STRICT = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
]


def probe(module: str, tmp_path: Path) -> dict:
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": module,
        "BACKROOM_VAR_DIR": str(tmp_path),
        "DJANGO_SECRET_KEY": "x" * 50,
        "DJANGO_ALLOWED_HOSTS": "testserver",
        "CELERY_BROKER_URL": "redis://127.0.0.1:1/0",
        # make run is DEBUG off by default; DJANGO_DEBUG=1 (local only) brings Django's technical
        # error pages back, the one place the policy relaxes: probe that case.
        "DJANGO_DEBUG": "1" if module.endswith(".local") else "0",
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "module",
    ["config.settings.local", "config.settings.test", "config.settings.production", "config.settings.bench"],
)
def test_every_response_carries_a_strict_policy_and_a_permissions_policy(module, tmp_path):
    for path, (status, csp, permissions) in probe(module, tmp_path).items():
        assert csp, f"{module} {path} ({status}): no Content-Security-Policy"
        directives = [d.strip() for d in csp.split(";")]
        for directive in STRICT:
            assert any(d.startswith(directive) for d in directives), (module, path, csp)
        debug_page = module.endswith(".local") and status in (404, 500)
        # Only Django's technical error pages, with DEBUG on, may carry inline style and script.
        assert ("'unsafe-inline'" in csp) is debug_page, (module, path, csp)
        assert "'unsafe-eval'" not in csp and "*" not in csp
        assert permissions and "camera=()" in permissions and "geolocation=()" in permissions
        assert "microphone=()" in permissions and "payment=()" in permissions
        if module.endswith(".production"):
            assert "upgrade-insecure-requests" in directives


def templates_served() -> list[Path]:
    """Every template a page is rendered from (emails are not pages: mail clients need inline style)."""
    found = []
    for path in ROOT.glob("*/**/templates/**/*.html"):
        # Our own templates: not the virtualenvs (.venv, and var/venv-django6 of .ci/django6).
        if ".venv" in path.parts or path.parts[len(ROOT.parts)] == "var" or "email" in path.parts:
            continue
        found.append(path)
    return found


def test_no_template_has_inline_script_or_style():
    paths = templates_served()
    assert len(paths) > 15
    for path in paths:
        text = path.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag or 'type="application/json"' in tag, f"{path}: inline script {tag}"
        assert "<style" not in text, f"{path}: inline <style>"
        assert not re.search(r"\sstyle=", text), f"{path}: style attribute"
        assert not re.search(r"\son[a-z]+=", text), f"{path}: inline event handler"
