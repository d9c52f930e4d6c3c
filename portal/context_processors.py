from django.conf import settings


def portal(request):
    user = getattr(request, "user", None)
    context = {"LANGUAGES_AVAILABLE": settings.LANGUAGES}
    if user is not None and user.is_authenticated:
        from accounts.rules import is_secretariat

        from .selectors import unread_count

        context["unread_notifications"] = unread_count(user)
        from groups.chat import chat_unread_counts_for_request

        context["unread_chat"] = sum(chat_unread_counts_for_request(request).values())
        context["is_secretariat"] = is_secretariat(user)
    return context
