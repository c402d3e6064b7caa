def unread(request):
    """The header badge's first value; issue 5 fills it from the Notification table."""
    return {}
