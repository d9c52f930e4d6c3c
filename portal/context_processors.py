from django.conf import settings


def portal(request):
    user = getattr(request, "user", None)
    context = {"LANGUAGES_AVAILABLE": settings.LANGUAGES}
    if user is not None and user.is_authenticated:
        from groups.chat import chat_unread_counts_for_request

        from .selectors import navigation_facts

        secretariat, unread = navigation_facts(user)
        context["unread_notifications"] = unread
        context["unread_chat"] = sum(chat_unread_counts_for_request(request).values())
        context["is_secretariat"] = secretariat and user.is_active
    return context
