"""The group chat: every write (post, edit, delete, read marker, presence) and its reads.

The WebSocket consumer (``groups/consumers.py``), the chat views
(``groups/chat_views.py``) and tests all call these functions; none of them
re-derives a permission. Writes follow the services' pattern: check
permission, validate, write in one transaction, record what must be recorded,
and broadcast after commit (``groups/realtime.py``). Errors are ``ChatError``
(a ``ValidationError`` with a ``code`` and a message for the user); nothing is
written when one is raised.

Messages are numbered per group (``seq`` 1, 2, 3… without gaps), so a client
that saw message *n* asks for everything after *n* when it reconnects, and can
tell from a broadcast that skips a number that it missed one.
"""

import logging
import random
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Prefetch, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.services import activity_record, notify

from . import realtime
from .models import (
    ChatMessage,
    ChatMessageEdit,
    ChatPresence,
    ChatReadMarker,
    ChatRoom,
    ExpertGroup,
    Membership,
)
from .rules import forget_memberships
from .selectors import groups_with_lifecycle

logger = logging.getLogger(__name__)


def _setting(name: str, default):
    return getattr(settings, name, default)


def max_length() -> int:
    """Longest message, in characters."""
    return _setting("CHAT_MESSAGE_MAX_LENGTH", 4000)


def rate_limit() -> tuple[int, int]:
    """(messages, seconds): how many messages one person may post per window."""
    return _setting("CHAT_RATE_LIMIT", (10, 10))


PAGE_SIZE = 50
RESUME_BATCH = 200
CHANGED_LIMIT = 500
# A socket refreshes its presence every 25 s; one silent for longer than this is gone.
PRESENCE_TTL = timedelta(seconds=75)
# Clocks of several web hosts differ a little: look this far back for changes.
CLOCK_MARGIN = timedelta(seconds=10)
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Control characters other than tab and newline, and lone surrogates (which no
# database stores), are dropped from message text.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


class ChatError(ValidationError):
    """The chat refused an action; ``code`` says which rule, the message says why."""


# --- Access ---------------------------------------------------------------


# A socket keeps the user and the group it loaded for this long; the membership
# itself is read again for every frame. (Archiving closes the sockets at once; an
# account switched off or a term ending is noticed within this time.)
ACCESS_REFRESH = 60.0

# The group, with its mandates, as the process's sockets share it: read at most once
# per ACCESS_REFRESH per group, however many of its sockets the process holds. Reading
# it for each socket cost two of a refresh's five queries, and after a restart all the
# sockets, reconnected together, refreshed together (docs/benchmarks.md, chat).
_groups: dict[int, tuple[float, ExpertGroup]] = {}
_groups_lock = threading.Lock()


def _group_shared(group_id: int, now: float) -> tuple[float, ExpertGroup | None]:
    """(when it was read, the group): the shared copy while it is younger than
    ACCESS_REFRESH, else the group read again (and shared)."""
    with _groups_lock:
        kept = _groups.get(group_id)
    if kept is not None and now - kept[0] < ACCESS_REFRESH:
        return kept
    group = groups_with_lifecycle().filter(pk=group_id).first()
    _group_keep(group_id, group, now)
    return now, group


def _group_keep(group_id: int, group: ExpertGroup | None, now: float) -> None:
    with _groups_lock:
        for pk in [pk for pk, (at, _g) in _groups.items() if now - at >= ACCESS_REFRESH]:
            del _groups[pk]  # stale ones go, so the dict holds only the groups in use
        if group is None:
            _groups.pop(group_id, None)
        else:
            _groups[group_id] = (now, group)


def chat_groups_forget() -> None:
    """Drop the process's shared groups (for tests)."""
    with _groups_lock:
        _groups.clear()


@dataclass(frozen=True)
class ChatAccess:
    """What one person may do in one room."""

    user: object
    group: ExpertGroup
    can_view: bool
    can_post: bool
    can_moderate: bool
    loaded_at: float

    @property
    def is_archived(self) -> bool:
        return self.group.is_archived


def chat_access(
    *,
    user_id: int,
    group_id: int | None = None,
    slug: str = "",
    previous: ChatAccess | None = None,
) -> ChatAccess | None:
    """The rights of a user in a group's room, or None when the user may not see the room.

    The consumer calls this for every frame. The membership (and so every
    permission that depends on it) is read fresh each time, so a removed member
    is refused at their next message. The user and the group (its lifecycle,
    the secretariat role) are re-read when ``previous`` is older than
    ``ACCESS_REFRESH`` seconds; the group then comes from the process's shared
    copy when that is younger (``_group_shared``), and the access counts as
    loaded when that copy was, so that nothing a socket holds is ever older
    than ``ACCESS_REFRESH``. A socket's first access, by ``slug``, always reads
    the group and renews the shared copy.
    """
    from accounts.selectors import active_user_with_role

    now = time.monotonic()
    if previous is not None and now - previous.loaded_at < ACCESS_REFRESH:
        user, group, loaded_at = previous.user, previous.group, previous.loaded_at
    else:
        user = active_user_with_role(user_id)
        if user is None:
            return None
        if group_id is not None:
            loaded_at, group = _group_shared(group_id, now)
        else:
            loaded_at, group = now, groups_with_lifecycle().filter(slug=slug).first()
            if group is not None:
                _group_keep(group.pk, group, now)
        if group is None:
            return None
    forget_memberships(user)
    if not user.has_perm("groups.view_group", group):
        return None
    return ChatAccess(
        user=user,
        group=group,
        can_view=True,
        can_post=user.has_perm("groups.contribute", group),
        can_moderate=user.has_perm("groups.manage_members", group),
        loaded_at=loaded_at,
    )


def _require_post(actor, group) -> None:
    if actor.has_perm("groups.contribute", group):
        return
    if (
        actor.has_perm("groups.view_group", group)
        and Membership.objects.filter(
            user=actor, group=group, state=Membership.State.ACTIVE
        ).exists()
    ):
        raise ChatError(
            _("This group is read-only: nothing can be posted in its chat."), code="read_only"
        )
    raise PermissionDenied


# --- Messages -------------------------------------------------------------


def chat_body_clean(body) -> str:
    """The text of a message as it will be stored, or ChatError when it cannot be."""
    if not isinstance(body, str):
        raise ChatError(_("A message must be text."), code="invalid")
    body = _UNPRINTABLE.sub("", body.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not body:
        raise ChatError(_("Write something before sending."), code="empty")
    limit = max_length()
    if len(body) > limit:
        raise ChatError(
            _("A message can be at most %(limit)d characters long (this one has %(length)d).")
            % {"limit": limit, "length": len(body)},
            code="too_long",
        )
    return body


def _count(key: str, *, timeout: int) -> int:
    """Add one to a counter that expires, and return it: one round trip on Redis."""
    client_of = getattr(getattr(cache, "_cache", None), "get_client", None)
    if client_of is not None:  # Django's Redis cache: INCR and EXPIRE in one pipeline
        full_key = cache.make_and_validate_key(key)
        pipe = client_of(full_key, write=True).pipeline()
        pipe.incr(full_key)
        pipe.expire(full_key, timeout, nx=True)
        count, _expiry = pipe.execute()
        return int(count)
    if cache.add(key, 1, timeout=timeout):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=timeout)
        return 1


def _rate_limit_check(actor) -> None:
    """Count the message against the sender's allowance; shared by every web process
    when the cache is Redis. A cache that is down lets the message through."""
    limit, window = rate_limit()
    now = time.time()
    key = f"chat-rate:{actor.pk}:{int(now // window)}"
    try:
        count = _count(key, timeout=window + 1)
    except Exception:
        logger.exception("chat: rate limit cache unavailable")
        return
    if count > limit:
        wait = max(1, int(window - now % window) + 1)
        raise ChatError(
            _("You are sending messages too fast. Wait %(seconds)d seconds and try again.")
            % {"seconds": wait},
            code="rate_limited",
            params={"retry_after": wait},
        )


def _mentioned_members(group, body: str, author) -> list:
    """Active members other than the author named in the text as ``@Full Name`` or ``@e-mail``."""
    if "@" not in body:
        return []
    text = body.casefold()
    found = []
    for membership in Membership.objects.filter(
        group=group, state=Membership.State.ACTIVE
    ).select_related("user"):
        user = membership.user
        if user.pk == author.pk or not user.is_active:
            continue
        for handle in (user.full_name, user.email):
            if handle and re.search(re.escape("@" + handle.casefold()) + r"(?!\w)", text):
                found.append(user)
                break
    return found


def _notify_mentions(*, actor, group, message: ChatMessage, users) -> None:
    if not users:
        return
    url = chat_message_url(group, message)
    body = message.body if len(message.body) <= 1000 else message.body[:999] + "…"
    notify(
        users=users,
        category="chat",
        title=lambda: (
            _("%(user)s mentioned you in %(group)s") % {"user": actor, "group": group.name}
        ),
        body=body,
        url=url,
    )


def chat_message_url(group, message: ChatMessage) -> str:
    """The room opened around ``message`` (however old it is), scrolled to it."""
    room = reverse("groups:chat", kwargs={"slug": group.slug})
    return f"{room}?around={message.seq}#message-{message.pk}"


def _linked_document(actor, group, document):
    """The group document a message links to, or ChatError when it may not be linked.

    A document of another group answers exactly like one that does not exist.
    """
    from documents.models import Document

    if document in (None, ""):
        return None
    if not isinstance(document, int) or isinstance(document, bool):
        raise ChatError(_("The document you link is not in this group."), code="document")
    found = Document.objects.filter(pk=document, group=group).first()
    if found is None:
        raise ChatError(_("The document you link is not in this group."), code="document")
    found.group = group  # with its lifecycle, for the permission check
    if found.is_binned:
        raise ChatError(
            _("This document is in the bin: restore it before linking it."), code="document"
        )
    if not actor.has_perm("documents.view_document", found):
        raise ChatError(_("The document you link is not in this group."), code="document")
    return found


def chat_linkable_documents(group, limit: int = 100) -> list:
    """The group's documents a member may link from the composer, most recently updated first."""
    from documents.models import Document

    rows = Document.objects.filter(group=group, binned_at__isnull=True)
    return list(rows.order_by("-updated_at", "-pk").only("pk", "title")[:limit])


def _reply_target(group, reply_to) -> ChatMessage | None:
    if reply_to in (None, ""):
        return None
    if not isinstance(reply_to, int) or isinstance(reply_to, bool):
        raise ChatError(_("The message you reply to is not in this chat."), code="not_found")
    target = ChatMessage.objects.filter(pk=reply_to, group=group).first()
    if target is None:
        raise ChatError(_("The message you reply to is not in this chat."), code="not_found")
    return target


def _broadcast_on_commit(group_id: int, kind: str, message: ChatMessage, mentions=None) -> None:
    """The frame is the same for the whole room; the author's own sockets also learn the
    ``client_id`` their browser chose (``ChatConsumer.chat_frame`` adds it), nobody else."""
    frame = {"type": kind, "message": message_payload(message, mentions=mentions)}
    author = {}
    if kind == "message" and message.client_id:
        author = {"author_id": message.author_id, "client_id": message.client_id}
    transaction.on_commit(lambda: realtime.room_broadcast(group_id=group_id, frame=frame, **author))


def _next_seq(group) -> int:
    """Take the group's next message number. The row stays locked until commit, so two
    messages of one group are numbered (and committed) one after the other."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {ChatRoom._meta.db_table} SET last_seq = last_seq + 1 "  # noqa: S608
            "WHERE group_id = %s RETURNING last_seq",
            [group.pk],
        )
        row = cursor.fetchone()
    if row is not None:
        return row[0]
    ChatRoom.objects.get_or_create(group=group, defaults={"last_seq": chat_latest_seq(group)})
    return _next_seq(group)


def chat_message_post(
    *, actor, group: ExpertGroup, body, reply_to=None, document=None, client_id: str = ""
) -> ChatMessage:
    """Store a member's message, notify the members it mentions, broadcast it after commit.

    ``document`` (an id) links a document of the same group that is not in the bin
    and that the author may see; anything else is refused and nothing is stored.

    A ``client_id`` already used by the same author returns the stored message
    unchanged (a browser re-sending after a dropped connection), so a message is
    never stored twice.
    """
    _require_post(actor, group)
    if client_id and (not isinstance(client_id, str) or not CLIENT_ID.match(client_id)):
        raise ChatError(_("This message could not be read."), code="invalid")
    # A re-sent client_id is not looked up first: the unique constraint on
    # (author, client_id) refuses the second row, and the first one is returned.
    body = chat_body_clean(body)
    target = _reply_target(group, reply_to)
    linked = _linked_document(actor, group, document)
    _rate_limit_check(actor)
    try:
        with transaction.atomic():
            message = ChatMessage.objects.create(
                group=group,
                seq=_next_seq(group),
                author=actor,
                body=body,
                reply_to=target,
                document=linked,
                client_id=client_id or "",
            )
            mentioned = _mentioned_members(group, body, actor)
            if mentioned:
                message.mentions.set(mentioned)
            message.mentioned = mentioned  # what message_payload shows, without a query
            _notify_mentions(actor=actor, group=group, message=message, users=mentioned)
            _broadcast_on_commit(group.pk, "message", message, mentions=mentioned)
    except IntegrityError:
        # The same message sent twice at the very same moment: the other one is stored.
        existing = _sent_before(actor, group, client_id) if client_id else None
        if existing is None:
            raise
        return existing
    return message


def _sent_before(actor, group, client_id: str) -> ChatMessage | None:
    existing = ChatMessage.objects.filter(author=actor, client_id=client_id).first()
    if existing is not None and existing.group_id != group.pk:
        raise ChatError(_("This message could not be read."), code="invalid")
    return existing


def _message_in(group, message_id, *, lock: bool = False) -> ChatMessage:
    if not isinstance(message_id, int) or isinstance(message_id, bool):
        raise ChatError(_("This message is not in this chat."), code="not_found")
    rows = ChatMessage.objects.select_related(
        "author", "deleted_by", "reply_to__author", "document__group"
    )
    if lock:
        rows = rows.select_for_update(of=("self",))
    message = rows.filter(pk=message_id, group=group).first()
    if message is None:
        # Another group's message answers exactly like one that does not exist.
        raise ChatError(_("This message is not in this chat."), code="not_found")
    return message


@transaction.atomic
def chat_message_edit(*, actor, group: ExpertGroup, message_id: int, body) -> ChatMessage:
    """The author changes their message; the earlier text is kept as a ``ChatMessageEdit``."""
    message = _message_in(group, message_id, lock=True)
    if message.author_id != actor.pk:
        raise ChatError(_("You can only edit your own messages."), code="forbidden")
    _require_post(actor, group)
    if message.is_deleted:
        raise ChatError(_("A deleted message cannot be edited."), code="deleted")
    body = chat_body_clean(body)
    if body == message.body:
        return message
    now = timezone.now()
    ChatMessageEdit.objects.create(message=message, body=message.body, edited_at=now)
    before = set(message.mentions.values_list("pk", flat=True))
    message.body = body
    message.edited_at = now
    message.save(update_fields=["body", "edited_at"])
    mentioned = _mentioned_members(group, body, actor)
    message.mentions.set(mentioned)
    _notify_mentions(
        actor=actor,
        group=group,
        message=message,
        users=[u for u in mentioned if u.pk not in before],
    )
    _broadcast_on_commit(group.pk, "changed", message, mentions=mentioned)
    return message


@transaction.atomic
def chat_message_delete(*, actor, group: ExpertGroup, message_id: int) -> ChatMessage:
    """The author deletes their message, or a coordinator (or the secretariat) removes any.

    The text and its earlier versions are erased; who deleted it and when stays,
    and a removal by someone else than the author is recorded in the activity log.
    """
    message = _message_in(group, message_id, lock=True)
    own = message.author_id == actor.pk
    if own:
        _require_post(actor, group)
    elif not actor.has_perm("groups.manage_members", group):
        raise ChatError(_("Only coordinators can remove someone else's message."), code="forbidden")
    if message.is_deleted:
        raise ChatError(_("This message has already been deleted."), code="deleted")
    message.deleted_at = timezone.now()
    message.deleted_by = actor
    message.body = ""
    message.document = None
    message.save(update_fields=["deleted_at", "deleted_by", "body", "document"])
    message.edits.all().delete()
    message.mentions.clear()
    if not own:
        activity_record(
            actor=actor,
            verb="chat.message_removed",
            group=group,
            summary=f"Chat message #{message.seq} by {message.author or 'a former member'} removed",
            data={"message": message.pk, "seq": message.seq, "author": message.author_id},
        )
    _broadcast_on_commit(group.pk, "changed", message, mentions=[])
    return message


def chat_mark_read(*, user, group: ExpertGroup, seq: int) -> int:
    """Remember that ``user`` has read the room up to message ``seq``; markers only move forward."""
    if not user.has_perm("groups.view_group", group):
        raise PermissionDenied
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise ChatError(_("This message is not in this chat."), code="invalid")
    seq = max(0, min(seq, chat_latest_seq(group)))
    marker, _created = ChatReadMarker.objects.get_or_create(user=user, group=group)
    if marker.last_read_seq < seq:
        ChatReadMarker.objects.filter(pk=marker.pk, last_read_seq__lt=seq).update(
            last_read_seq=seq, updated_at=timezone.now()
        )
    return seq


# --- Presence -------------------------------------------------------------


def chat_presence_join(*, user, group, channel_name: str) -> list[dict]:
    """Register one open socket; returns who is online now."""
    now = timezone.now()
    if random.random() < 0.02:  # now and then, forget the sockets of processes that died
        ChatPresence.objects.filter(seen_at__lt=now - timedelta(days=1)).delete()
    ChatPresence.objects.create(channel_name=channel_name, group=group, user=user, seen_at=now)
    return chat_online(group)


def chat_presence_touch(*, channel_name: str) -> None:
    ChatPresence.objects.filter(channel_name=channel_name).update(seen_at=timezone.now())


def chat_presence_leave(*, group_id: int, channel_name: str) -> list[dict]:
    ChatPresence.objects.filter(channel_name=channel_name).delete()
    return chat_online(group_id)


def chat_online(group) -> list[dict]:
    """The people with an open chat socket in the group, by name."""
    from accounts.models import User

    since = timezone.now() - PRESENCE_TTL
    users = User.objects.filter(
        pk__in=ChatPresence.objects.filter(group=group, seen_at__gte=since).values("user_id")
    ).order_by("full_name", "email")
    return [{"id": u.pk, "name": _name(u)} for u in users]


# --- Reads ----------------------------------------------------------------


def _name(user) -> str:
    return user.display_name


def _messages(group, *related) -> QuerySet[ChatMessage]:
    return (
        ChatMessage.objects.filter(group=group)
        .select_related(*related)
        .prefetch_related(Prefetch("mentions", queryset=_user_pks()))
    )


def _user_pks():
    from accounts.models import User

    return User.objects.only("pk").order_by()


def chat_messages(group) -> QuerySet[ChatMessage]:
    """The group's messages with what ``message_payload`` and the exports need, in a
    fixed number of queries."""
    return _messages(group, "author", "deleted_by", "reply_to__author", "document__group")


#: What ``message_payload`` reads of a message and the rows joined to it. The pages
#: of history a browser loads read only these columns: the full rows (the message,
#: three people, the replied-to message, the document and its group: about 120
#: columns) cost about a fifth of the history request's instructions to build
#: (bench/page_cost.py --callgrind, docs/benchmarks.md).
PAYLOAD_FIELDS = (
    *("seq", "body", "client_id", "created_at", "edited_at", "deleted_at", "deleted_by_id"),
    *("author__full_name", "author__email", "author__deleted_at"),
    *("reply_to__seq", "reply_to__body", "reply_to__deleted_at"),
    *("reply_to__author__full_name", "reply_to__author__email", "reply_to__author__deleted_at"),
    *("document__title", "document__binned_at", "document__group__slug"),
)


def chat_messages_for_clients(group) -> QuerySet[ChatMessage]:
    """``chat_messages`` with only what ``message_payload`` reads (no ``deleted_by``:
    the payload compares its id)."""
    return _messages(group, "author", "reply_to__author", "document__group").only(*PAYLOAD_FIELDS)


def chat_history(
    *,
    group,
    before_seq: int | None = None,
    after_seq: int | None = None,
    limit: int = PAGE_SIZE,
) -> tuple[list[ChatMessage], bool]:
    """One page of messages in order, and whether there are more in that direction.

    ``after_seq``: the messages after it (oldest first: catching up).
    ``before_seq``: the page before it (scrolling up). Neither: the latest page.
    """
    limit = max(1, min(limit, RESUME_BATCH))
    rows = chat_messages_for_clients(group)
    if after_seq is not None:
        page = list(rows.filter(seq__gt=after_seq).order_by("seq")[: limit + 1])
        return page[:limit], len(page) > limit
    if before_seq is not None:
        rows = rows.filter(seq__lt=before_seq)
    page = list(rows.order_by("-seq")[: limit + 1])
    return list(reversed(page[:limit])), len(page) > limit


def chat_history_around(
    *, group, seq: int, limit: int = PAGE_SIZE
) -> tuple[list[ChatMessage], bool, bool]:
    """The page of messages around message number ``seq`` (a link to an old message),
    in order, and whether there are earlier and later ones."""
    limit = max(2, min(limit, RESUME_BATCH))
    half = limit // 2
    rows = chat_messages_for_clients(group)
    earlier = list(rows.filter(seq__lt=seq).order_by("-seq")[: half + 1])
    later = list(rows.filter(seq__gte=seq).order_by("seq")[: limit - half + 1])
    page = list(reversed(earlier[:half])) + later[: limit - half]
    return page, len(earlier) > half, len(later) > limit - half


def chat_changed_since(*, group, since: datetime, upto_seq: int) -> list[ChatMessage]:
    """Messages up to ``upto_seq`` edited or deleted since ``since`` (a client catching up)."""
    since = since - CLOCK_MARGIN
    rows = chat_messages_for_clients(group).filter(
        Q(edited_at__gte=since) | Q(deleted_at__gte=since), seq__lte=upto_seq
    )
    return list(rows.order_by("-seq")[:CHANGED_LIMIT])[::-1]


def chat_latest_seq(group) -> int:
    return ChatMessage.objects.filter(group=group).aggregate(m=Max("seq"))["m"] or 0


def chat_unread_counts(user) -> dict[int, int]:
    """Unread messages by others per group the user is an active member of (one query).

    Only messages sent since the member's active membership started count: a new
    member has no read marker, and the history from before they joined is not news.
    Written in SQL: every page shows these counts (navigation, group header), and
    the same query built through the ORM cost more CPU than the rest of a page's
    queries together (bench/page_cost.py). ``test_chat_services`` checks it.
    """
    if not getattr(user, "is_authenticated", False):
        return {}
    sql = f"""
        SELECT m.group_id, COUNT(c.id)
        FROM {Membership._meta.db_table} m
        LEFT JOIN {ChatReadMarker._meta.db_table} r
            ON r.user_id = m.user_id AND r.group_id = m.group_id
        JOIN {ChatMessage._meta.db_table} c
            ON c.group_id = m.group_id
            AND c.seq > COALESCE(r.last_read_seq, 0)
            AND c.deleted_at IS NULL
            AND (c.author_id IS NULL OR c.author_id <> %s)
            AND (m.started_at IS NULL OR c.created_at >= m.started_at)
        WHERE m.user_id = %s AND m.state = %s
        GROUP BY m.group_id
    """  # noqa: S608 (table names from the models, values as parameters)
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk, user.pk, Membership.State.ACTIVE])
        return dict(cursor.fetchall())


def chat_unread_counts_for_request(request) -> dict[int, int]:
    """``chat_unread_counts`` of the signed-in viewer, read once per request.

    The navigation (total) and the group header (per group) both show them.
    """
    counts = getattr(request, "_chat_unread_counts", None)
    if counts is None:
        counts = request._chat_unread_counts = chat_unread_counts(request.user)
    return counts


def chat_transcript(group):
    """Every message of the group, oldest first, with earlier versions (for exports)."""
    return chat_messages(group).prefetch_related("edits").order_by("seq").iterator(chunk_size=1000)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def _document_payload(message: ChatMessage) -> dict | None:
    document = message.document if message.document_id is not None else None
    if document is None or message.is_deleted:
        return None
    if document.is_binned:  # moved to the bin since: its title is no longer for everyone
        return {"id": document.pk, "title": None, "url": None}
    url = reverse("documents:detail", kwargs={"slug": document.group.slug, "pk": document.pk})
    return {"id": document.pk, "title": document.title, "url": url}


def message_payload(message: ChatMessage, mentions=None, *, viewer_id: int | None = None) -> dict:
    """What a client is told about a message. The same for every viewer: times are UTC
    and the browser shows them in the viewer's zone; deleted text is never sent.

    The one exception: the ``client_id`` the author's browser chose is included only
    when ``viewer_id`` is the author (it lets their browser match a re-sent message).
    """
    reply = None
    if message.reply_to_id is not None and message.reply_to is not None:
        target = message.reply_to
        reply = {
            "id": target.pk,
            "seq": target.seq,
            "author": _name(target.author) if target.author else None,
            "excerpt": "" if target.is_deleted else target.body[:160],
            "deleted": target.is_deleted,
        }
    payload = {
        "id": message.pk,
        "seq": message.seq,
        "author": {"id": message.author.pk, "name": _name(message.author)}
        if message.author
        else None,
        "body": "" if message.is_deleted else message.body,
        "reply_to": reply,
        "document": _document_payload(message),
        "mentions": sorted(
            u.pk
            for u in (
                mentions
                if mentions is not None
                else message.mentioned
                if hasattr(message, "mentioned")
                else message.mentions.all()
            )
        ),
        "created_at": _iso(message.created_at),
        "edited_at": _iso(message.edited_at),
        "deleted": message.is_deleted,
        "deleted_by_author": message.is_deleted and message.deleted_by_id == message.author_id,
    }
    if viewer_id is not None and viewer_id == message.author_id and message.client_id:
        payload["client_id"] = message.client_id
    return payload


def chat_retention_enforce(*, now=None) -> int:
    """Delete the chat of groups archived more than ``CHAT_RETENTION_DAYS`` ago (0: keep).

    The archive package keeps the transcript; each group's deletion is recorded once.
    Returns the number of messages deleted.
    """
    days = settings.CHAT_RETENTION_DAYS
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted = 0
    due = ExpertGroup.objects.filter(
        archived_at__lte=cutoff, pk__in=ChatMessage.objects.values("group_id")
    )
    for group in due:
        with transaction.atomic():
            _total, by_model = ChatMessage.objects.filter(group=group).delete()
            count = by_model.get("groups.ChatMessage", 0)
            activity_record(
                actor=None,
                verb="chat.retention_deleted",
                group=group,
                summary=f"{count} chat messages deleted after the retention period of {days} days",
                data={"messages": count, "days": days},
            )
            deleted += count
    return deleted
