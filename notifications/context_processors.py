from django.utils.functional import SimpleLazyObject

from . import selectors


def unread(request):
    """The header badge's first value: one indexed COUNT, only when a page actually shows it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_count": SimpleLazyObject(lambda: selectors.unread_count(user=user))}
