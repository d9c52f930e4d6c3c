"""Template helpers of the group chat."""

from django import template

from groups.chat import chat_unread_counts_for_request

register = template.Library()


@register.simple_tag(takes_context=True)
def chat_unread(context, group) -> int:
    """Unread chat messages of ``group`` for the viewer (the Chat tab of the group header).

    The counts of all the viewer's groups are read once per request (one query).
    """
    request = context.get("request")
    user = getattr(request, "user", None)
    if request is None or not getattr(user, "is_authenticated", False):
        return 0
    return chat_unread_counts_for_request(request).get(group.pk, 0)
