from django.conf import settings


def portal(request):
    user = getattr(request, "user", None)
    context = {"LANGUAGES_AVAILABLE": settings.LANGUAGES}
    if user is not None and user.is_authenticated:
        from accounts.rules import is_secretariat
        from groups.chat import chat_unread_counts_for_request

        from .selectors import navigation_facts

        _secretariat, context["unread_notifications"] = navigation_facts(user)
        context["unread_chat"] = sum(chat_unread_counts_for_request(request).values())
        context["is_secretariat"] = is_secretariat(user)  # kept by navigation_facts: no query
    return context
