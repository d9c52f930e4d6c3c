"""The chat room's HTTP side: the page, older pages of history, a form fallback, exports.

The live part is the WebSocket consumer (``groups/consumers.py``); both call
``groups/chat.py``. The page works without JavaScript: it shows the latest
messages (older ones with ``?before=n``, the ones around message *n* with
``?around=n``, which is where a mention notification leads) and posts through a
plain form.
"""

from django.contrib import messages
from django.http import JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.rules import secretariat_required
from portal.decorators import read_only

from . import chat, selectors
from .transcripts import transcript_csv_lines, transcript_text_lines
from .views import _context, _group


def _int(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def _texts() -> dict:
    """Every sentence chat.js shows, translated here so that the script holds none."""
    return {
        "connecting": _("Connecting…"),
        "live": _("Live"),
        "reconnecting": _("Reconnecting…"),
        "closed_archived": _("This group has been archived: its chat is read-only."),
        "closed_membership": _("You are no longer a member of this group: the chat is closed."),
        "closed_session": _("Your session has ended. Sign in again to chat."),
        "closed_flooding": _(
            "Too many messages at once: the chat disconnected. Reload the page to reconnect."
        ),
        "edited": _("edited"),
        "edited_at": _("Edited %(time)s"),
        "deleted": _("This message was deleted."),
        "removed": _("This message was removed by a coordinator."),
        "former_member": _("Former member"),
        "you": _("you"),
        "reply": _("Reply"),
        "edit": _("Edit"),
        "delete": _("Delete"),
        "save": _("Save"),
        "cancel": _("Cancel"),
        "confirm_delete": _("Delete this message? This cannot be undone."),
        "replying_to": _("Replying to %(name)s"),
        "reply_to": _("In reply to %(name)s"),
        "quoted_deleted": _("a deleted message"),
        "typing_one": _("%(name)s is typing…"),
        "typing_two": _("%(first)s and %(second)s are typing…"),
        "typing_many": _("Several people are typing…"),
        "load_earlier": _("Load earlier messages"),
        "loading": _("Loading…"),
        "beginning": _("This is the beginning of the chat."),
        "history_failed": _("Earlier messages could not be loaded. Try again."),
        "sending": _("Sending…"),
        "queued": _("Waiting for the connection…"),
        "nobody_online": _("Nobody is online."),
        "edit_label": _("Edit your message"),
        "mention_label": _("Mention a member"),
        "jump": _("Show the quoted message"),
        "empty": _("No messages yet. Say hello!"),
        "document": _("Document:"),
        "document_gone": _("a document that is no longer available"),
    }


@require_GET
def chat_room(request, slug: str):
    group = _group(request, slug)
    user = request.user
    before = _int(request.GET.get("before"))
    around = _int(request.GET.get("around")) if before is None else None
    latest = chat.chat_latest_seq(group)
    if around is not None and latest - around < chat.PAGE_SIZE:
        around = None  # among the latest messages: the live page shows it
    has_later = False
    if around is not None:
        page, has_more, has_later = chat.chat_history_around(group=group, seq=around)
    else:
        page, has_more = chat.chat_history(group=group, before_seq=before)
        has_later = before is not None and bool(page) and page[-1].seq < latest
    static_page = before is not None or around is not None
    if not static_page and latest:
        chat.chat_mark_read(user=user, group=group, seq=latest)
    config = {
        "ws_path": f"/ws/groups/{group.slug}/chat/",
        "history_url": reverse("groups:chat_history", kwargs={"slug": group.slug}),
        "live": not group.is_archived and not static_page,
        "user_id": user.pk,
        "timezone": getattr(user, "timezone", "") or timezone.get_current_timezone_name(),
        "language": request.LANGUAGE_CODE,
        "can_post": user.has_perm("groups.contribute", group),
        "can_moderate": user.has_perm("groups.manage_members", group),
        "max_length": chat.max_length(),
        "has_more": has_more,
        "now": timezone.now().isoformat(),
        "texts": _texts(),
    }
    members = [{"id": m.user.pk, "name": m.user.display_name} for m in selectors.members_of(group)]
    return render(
        request,
        "groups/chat.html",
        _context(
            request,
            group,
            "chat",
            chat_messages=page,
            has_more=has_more,
            before=before,
            static_page=static_page,
            target_seq=around,
            # The next page starts after the last one shown (``?around`` centres it).
            later_around=page[-1].seq + chat.PAGE_SIZE // 2 + 1 if has_later else None,
            chat_config=config,
            chat_initial=[chat.message_payload(m, viewer_id=user.pk) for m in page],
            chat_members=members,
            chat_documents=chat.chat_linkable_documents(group)
            if user.has_perm("groups.contribute", group)
            else [],
            max_length=chat.max_length(),
        ),
    )


@read_only
def chat_history(request, slug: str):
    """A page of messages as JSON: ``?before=n`` (scrolling up) or ``?after=n`` (catching up)."""
    group = _group(request, slug)
    page, has_more = chat.chat_history(
        group=group,
        before_seq=_int(request.GET.get("before")),
        after_seq=_int(request.GET.get("after")),
        limit=_int(request.GET.get("limit")) or chat.PAGE_SIZE,
    )
    payloads = [chat.message_payload(m, viewer_id=request.user.pk) for m in page]
    return JsonResponse({"messages": payloads, "has_more": has_more})


@require_POST
def chat_post(request, slug: str):
    """The form fallback: the same service as the socket, then back to the room."""
    group = _group(request, slug)
    try:
        chat.chat_message_post(
            actor=request.user,
            group=group,
            body=request.POST.get("body", ""),
            reply_to=_int(request.POST.get("reply_to")),
            document=_int(request.POST.get("document")),
        )
    except chat.ChatError as exc:
        for message in exc.messages:
            messages.error(request, message)
    return redirect("groups:chat", slug=group.slug)


@secretariat_required
@require_GET
def chat_export(request, slug: str):
    """The whole chat of a group for the secretariat: ``?format=csv`` (default) or ``txt``."""
    group = _group(request, slug, "groups.manage_group")
    if request.GET.get("format") == "txt":
        response = StreamingHttpResponse(
            transcript_text_lines(
                group,
                timezone.get_current_timezone(),
                {
                    "title": _("Chat transcript"),
                    "former": _("Former member"),
                    "reply": _("(reply to #%(number)s)"),
                    "deleted": _("[deleted by %(who)s on %(when)s]"),
                    "edit": _("(before the edit of %(when)s: %(text)s)"),
                },
            ),
            content_type="text/plain; charset=utf-8",
        )
        filename = f"{group.slug}-chat.txt"
    else:
        response = StreamingHttpResponse(
            transcript_csv_lines(group), content_type="text/csv; charset=utf-8"
        )
        filename = f"{group.slug}-chat.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
