"""The one content-negotiation rule of every view that answers both people and programs.

JSON, unless the client prefers HTML. Browsers name ``text/html`` in every navigation and form
post, so they get pages; anything else (curl's ``*/*``, no Accept header, ``application/json``, a
type we do not serve) gets JSON, so a script never has to parse a page. Between the two, q-values
and then the header's own order decide (Django's ``HttpRequest.get_preferred_type``).
"""

from __future__ import annotations

from django.http import HttpRequest

# Listed JSON first: where a client accepts both equally (``*/*``), the first one wins.
_OFFERED = ("application/json", "text/html")


def wants_json(request: HttpRequest) -> bool:
    return request.get_preferred_type(_OFFERED) != "text/html"
