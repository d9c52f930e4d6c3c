import logging
from datetime import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpResponse, HttpResponseRedirect, HttpResponseServerError
from django.shortcuts import redirect, render
from django.template import loader
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import check_for_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.rules import secretariat_required
from accounts.services import user_language_set
from groups import selectors as group_selectors
from groups import views as group_views
from groups.chat import chat_unread_counts_for_request
from meetings import selectors as meeting_selectors
from portal.pagination import Paginator

from . import overview, selectors, services
from .charts import overview_charts
from .csvexport import csv_response
from .decorators import read_only
from .forms import NotificationPreferencesForm, posted_ids
from .models import Notification

logger = logging.getLogger(__name__)


@login_not_required
@require_GET
def home(request):
    return render(request, "portal/home.html", group_views.public_lists(request))


@read_only
def dashboard(request):
    my_groups = group_selectors.groups_of_user(request.user)
    unread = chat_unread_counts_for_request(request)
    for group in my_groups:
        group.chat_unread = unread.get(group.pk, 0)
    return render(
        request,
        "portal/dashboard.html",
        {
            "my_groups": my_groups,
            "invitations": group_selectors.invitations_for(request.user),
            "notifications": selectors.notifications_of(request.user)[:5],
            "next_meetings": meeting_selectors.next_meetings_of_user(
                request.user, groups=my_groups
            ),
            "open_polls": meeting_selectors.open_polls_of_user(request.user, groups=my_groups),
        },
    )


@login_not_required
@require_GET
def health(request):
    return HttpResponse("ok", content_type="text/plain")


@login_not_required
@require_POST
def language_switch(request):
    """Like Django's set_language, and remembered on the account of a signed-in user."""
    language = request.POST.get("language", "")
    next_url = request.POST.get("next", "/")
    if not _is_local_url(request, next_url):
        next_url = "/"
    response = HttpResponseRedirect(next_url)
    if language and check_for_language(language):
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            samesite="Lax",
            secure=request.is_secure(),
            httponly=True,  # only the server reads it
        )
        user_language_set(user=request.user, language=language)
    return response


@login_not_required
def error_403(request, exception=None):
    return render(request, "403.html", status=403)


@login_not_required
def error_404(request, exception=None):
    return render(request, "404.html", status=404)


@login_not_required
def error_500(request):
    """The friendly page in the site's layout, or a plain one if the layout itself fails:
    the layout reads the database (unread counts), which may be what just broke."""
    try:
        return render(request, "500.html", status=500)
    except Exception:
        logger.exception("The 500 page could not be drawn in the site's layout")
        return HttpResponseServerError(loader.render_to_string("500_plain.html"))


@require_GET
def notifications(request):
    page = Paginator(
        selectors.notifications_of(request.user), selectors.NOTIFICATIONS_PER_PAGE
    ).get_page(request.GET.get("page"))
    return render(request, "portal/notifications.html", {"page": page})


@require_POST
def notifications_read(request):
    """Mark the posted notifications (``id``, repeated) read, or all of them without one."""
    ids = posted_ids(request.POST.getlist("id"))
    if request.POST.getlist("id") and not ids:
        messages.error(request, _("That notification could not be found."))
        return redirect("notifications")
    count = services.notifications_mark_read(user=request.user, ids=ids or None)
    if not ids and count:
        messages.success(request, _("All notifications are marked as read."))
    next_url = request.POST.get("next", "")
    if _is_local_url(request, next_url):
        # A URL, never a route name: redirect() would try to reverse "a b" and fail.
        return HttpResponseRedirect(next_url)
    return redirect("notifications")


def _is_local_url(request, url: str) -> bool:
    """Whether ``url`` may be redirected to: on this site, by the request's scheme."""
    return bool(url) and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )


@require_GET
def notification_open(request, pk: int):
    """Follow a notification's link: mark it read, then go where it points.

    A link (GET) on purpose: marking one's own notification read is harmless and
    idempotent. Only its owner may open it (404 for anyone else); a target that is
    not on this site leads to the notification list instead, on the page that
    shows it.
    """
    try:
        note = services.notification_open(user=request.user, notification_id=pk)
    except Notification.DoesNotExist:
        raise Http404 from None
    if _is_local_url(request, note.url):
        return HttpResponseRedirect(note.url)
    page = selectors.notification_page_number(note)
    query = f"?page={page}" if page > 1 else ""
    return redirect(f"{reverse('notifications')}{query}#notification-{note.pk}")


@require_http_methods(["GET", "POST"])
def notification_settings(request):
    form = NotificationPreferencesForm(request.POST or None, user=request.user)
    if request.method == "POST":
        if form.is_valid():
            services.notification_preferences_set(user=request.user, choices=form.cleaned_data)
            messages.success(request, _("Your notification settings have been saved."))
            return redirect("notification_settings")
        messages.error(
            request,
            _("Your settings were not saved: choose one option for each kind of notification."),
        )
    return render(
        request,
        "portal/notification_settings.html",
        {"form": form, "digest_time": time(settings.NOTIFICATION_DIGEST_HOUR)},
        status=400 if request.method == "POST" else 200,
    )


# --- Secretariat: the yearly overview -------------------------------------


@secretariat_required
@require_GET
def secretariat_overview(request):
    figures = overview.yearly_overview()
    return render(
        request,
        "portal/secretariat_overview.html",
        {"overview": figures, "charts": overview_charts(figures)},
    )


@secretariat_required
@require_GET
def secretariat_overview_csv(request):
    figures = overview.yearly_overview()
    return csv_response(request, overview.overview_table(figures), day=figures.as_of)
