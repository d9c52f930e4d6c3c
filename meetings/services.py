"""Every write to meetings, answers, attendance, minutes, date polls and calendar feeds.

Each function checks permission (``meetings/rules.py``), validates, writes in
one transaction, records the activity and queues side effects (calendar
e-mails, notifications) with ``transaction.on_commit``. Refusals are
``MeetingError`` (a ``ValidationError``): its ``message_dict`` names the
field at fault, with the argument names of the service (``starts_at``,
``online_url``…), so a form can show each message at its field. Nothing is
written when one is raised.

Times may be given aware, or naive: a naive time is a wall-clock time in the
meeting's ``timezone`` and must exist exactly once there (see
``meetings/timezones.py``).
"""

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from groups.models import Membership
from portal.models import Reminder
from portal.services import activity_record, notify

from .models import CalendarFeed, DatePoll, Invitee, Meeting, PollSlot, PollVote
from .timezones import local_to_utc, zone

#: What the calendar e-mail to one person says (see ``meetings/mail.py``).
INVITATION = "invitation"
UPDATE = "update"
CANCELLATION = "cancellation"
UNINVITED = "uninvited"

#: Fields whose change raises the SEQUENCE and sends an update to every invitee.
DETAIL_FIELDS = (
    "title",
    "agenda",
    "agenda_document",
    "starts_at",
    "ends_at",
    "timezone",
    "place",
    "online_url",
)
MAX_SLOTS = 30


class MeetingError(ValidationError):
    """A rule refused the action; ``message_dict`` says why, per field."""


class _Errors:
    """Collects every refusal of one call, so the user sees them all at once."""

    def __init__(self) -> None:
        self.errors: dict[str, list[ValidationError]] = {}

    def add(self, field: str, message: str, code: str) -> None:
        self.errors.setdefault(field, []).append(ValidationError(message, code=code))

    def check(self) -> None:
        if self.errors:
            raise MeetingError(self.errors)


def _require(user, perm: str, group) -> None:
    if not user.has_perm(perm, group):
        raise PermissionDenied


def _refuse(message: str, code: str, field: str = NON_FIELD_ERRORS):
    return MeetingError({field: [ValidationError(message, code=code)]})


# --- Validation ------------------------------------------------------------


def _moment(errors: _Errors, value, zone_name: str, field: str) -> datetime | None:
    if value is None:
        errors.add(field, _("Give a date and a time."), "required")
        return None
    try:
        return local_to_utc(value, zone_name)
    except ValidationError as exc:
        errors.add(field, exc.messages[0], exc.code or "invalid")
        return None


def _check_span(
    errors: _Errors,
    start: datetime | None,
    end: datetime | None,
    *,
    now: datetime,
    start_field: str = "starts_at",
    end_field: str = "ends_at",
) -> None:
    if start is not None and start <= now:
        errors.add(
            start_field,
            _("This time has already passed: a meeting can only be planned in the future."),
            "past",
        )
    if start is None or end is None:
        return
    if end <= start:
        errors.add(end_field, _("The end must come after the start."), "end_before_start")
    elif end - start > timedelta(hours=settings.MEETING_MAX_HOURS):
        errors.add(
            end_field,
            _("A meeting lasts at most %(hours)d hours.") % {"hours": settings.MEETING_MAX_HOURS},
            "too_long",
        )


def _clean_link(errors: _Errors, url: str, field: str = "online_url") -> str:
    url = (url or "").strip()
    if not url:
        return ""
    if not url.lower().startswith("https://"):
        errors.add(
            field,
            _(
                "The online link must be a secure web address starting with https:// "
                "(for example https://meet.example.org/room)."
            ),
            "link_scheme",
        )
        return url
    try:
        URLValidator(schemes=["https"])(url)
    except ValidationError:
        errors.add(field, _("The online link is not a valid web address."), "link_invalid")
    if len(url) > 500:
        errors.add(field, _("The online link is too long (500 characters at most)."), "too_long")
    return url


def _clean_details(
    errors: _Errors, *, title: str, agenda: str, place: str, online_url: str, timezone_name: str
) -> dict:
    title = (title or "").strip()
    if not title:
        errors.add("title", _("Give the meeting a title."), "required")
    elif len(title) > 200:
        errors.add("title", _("The title is too long (200 characters at most)."), "too_long")
    place = (place or "").strip()
    if len(place) > 300:
        errors.add("place", _("The place is too long (300 characters at most)."), "too_long")
    try:
        zone(timezone_name)
    except ValidationError as exc:
        errors.add("timezone", exc.messages[0], "unknown_zone")
    return {
        "title": title,
        "agenda": (agenda or "").strip(),
        "place": place,
        "online_url": _clean_link(errors, online_url),
        "timezone": timezone_name,
    }


def _clean_document(errors: _Errors, group, document, field: str):
    """A document of the same group, outside the bin, or None."""
    if document is None:
        return None
    if document.group_id != group.pk or document.binned_at is not None:
        errors.add(field, _("Choose a document of this group."), "foreign_document")
        return None
    return document


def _member_users(group) -> dict:
    """The active members of the group (active accounts), by id."""
    return {
        m.user.pk: m.user
        for m in Membership.objects.filter(
            group=group, state=Membership.State.ACTIVE, user__is_active=True
        ).select_related("user")
    }


def _clean_invitees(errors: _Errors, group, invitees: Iterable | None) -> list:
    members = _member_users(group)
    if invitees is None:
        return sorted(members.values(), key=lambda u: u.pk)
    chosen = {getattr(u, "pk", u): u for u in invitees}
    strangers = [u for pk, u in chosen.items() if pk not in members]
    if strangers:
        errors.add(
            "invitees",
            _("Only members of this group can be invited."),
            "not_a_member",
        )
        return []
    if not chosen:
        errors.add("invitees", _("Invite at least one member."), "required")
    return [members[pk] for pk in sorted(chosen)]


def _queue_emails(meeting_id: int, user_ids: Iterable[int], kind: str) -> None:
    user_ids = sorted(set(user_ids))
    if user_ids:
        transaction.on_commit(partial(_send_emails, meeting_id, user_ids, kind))


def _send_emails(meeting_id: int, user_ids: list[int], kind: str) -> None:
    from .tasks import send_meeting_email

    for user_id in user_ids:
        send_meeting_email.delay(meeting_id, user_id, kind)


def _utc_label(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


# --- Meetings --------------------------------------------------------------


@transaction.atomic
def meeting_schedule(
    *,
    actor,
    group,
    title: str,
    starts_at: datetime,
    ends_at: datetime,
    timezone_name: str,
    agenda: str = "",
    place: str = "",
    online_url: str = "",
    invitees: Iterable | None = None,
    agenda_document=None,
) -> Meeting:
    """Schedule a meeting of ``group`` (coordinators) and invite its members.

    ``invitees`` None invites every active member; otherwise a selection of
    members. ``agenda_document`` is an optional document of the group. Each
    invitee gets a calendar invitation (METHOD:REQUEST) by e-mail after commit.
    """
    _require(actor, "meetings.schedule", group)
    now = timezone.now()
    errors = _Errors()
    details = _clean_details(
        errors,
        title=title,
        agenda=agenda,
        place=place,
        online_url=online_url,
        timezone_name=timezone_name,
    )
    start = end = None
    if "timezone" not in errors.errors:
        start = _moment(errors, starts_at, timezone_name, "starts_at")
        end = _moment(errors, ends_at, timezone_name, "ends_at")
        _check_span(errors, start, end, now=now)
    details["agenda_document"] = _clean_document(errors, group, agenda_document, "agenda_document")
    users = _clean_invitees(errors, group, invitees)
    errors.check()
    meeting = Meeting.objects.create(
        group=group,
        starts_at=start,
        ends_at=end,
        invite_all=invitees is None,
        created_by=actor,
        times_set_at=now,
        **details,
    )
    Invitee.objects.bulk_create([Invitee(meeting=meeting, user=user) for user in users])
    activity_record(
        actor=actor,
        verb="meeting.scheduled",
        group=group,
        summary=f"Meeting “{meeting.title}” scheduled for {_utc_label(start)}",
        data={"meeting": meeting.pk, "title": meeting.title, "start": start.isoformat()},
    )
    _queue_emails(meeting.pk, [u.pk for u in users], INVITATION)
    return meeting


def _value(source, name: str):
    """A detail of a meeting (or of a dict of new details); documents compare by id."""
    if name == "agenda_document":
        if isinstance(source, dict):
            return source[name].pk if source[name] is not None else None
        return source.agenda_document_id
    return source[name] if isinstance(source, dict) else getattr(source, name)


def _locked(meeting: Meeting) -> Meeting:
    group = meeting.group
    meeting = Meeting.objects.select_for_update().get(pk=meeting.pk)
    meeting.group = group
    return meeting


@transaction.atomic
def meeting_update(
    *,
    actor,
    meeting: Meeting,
    title: str,
    starts_at: datetime,
    ends_at: datetime,
    timezone_name: str,
    agenda: str = "",
    place: str = "",
    online_url: str = "",
    invitees: Iterable | None = None,
    agenda_document=None,
) -> Meeting:
    """Change a meeting that has not started yet.

    A change of its details or of the invitee list raises the SEQUENCE and
    sends every remaining invitee an updated invitation (with the new attendee
    list); a change of time also clears their answers (they are asked again)
    and the reminder claims (reminders follow the new time). Newly invited
    people get an invitation, people no longer invited a cancellation, both
    with the new SEQUENCE.
    """
    group = meeting.group
    _require(actor, "meetings.schedule", group)
    meeting = _locked(meeting)
    now = timezone.now()
    if meeting.is_cancelled:
        raise _refuse(_("A cancelled meeting cannot be changed."), "cancelled")
    if meeting.starts_at <= now:
        raise _refuse(
            _(
                "This meeting has started or taken place and can no longer be changed. "
                "Record the attendance and the minutes instead."
            ),
            "started",
        )
    errors = _Errors()
    details = _clean_details(
        errors,
        title=title,
        agenda=agenda,
        place=place,
        online_url=online_url,
        timezone_name=timezone_name,
    )
    if "timezone" not in errors.errors:
        details["starts_at"] = _moment(errors, starts_at, timezone_name, "starts_at")
        details["ends_at"] = _moment(errors, ends_at, timezone_name, "ends_at")
        _check_span(errors, details["starts_at"], details["ends_at"], now=now)
    details["agenda_document"] = _clean_document(errors, group, agenda_document, "agenda_document")
    users = _clean_invitees(errors, group, invitees)
    errors.check()

    changed = [name for name in DETAIL_FIELDS if _value(meeting, name) != _value(details, name)]
    current = set(meeting.invitees.values_list("user_id", flat=True))
    wanted = {u.pk for u in users}
    added, removed = wanted - current, current - wanted
    if not changed and not added and not removed and meeting.invite_all == (invitees is None):
        return meeting

    moved = "starts_at" in changed or "ends_at" in changed
    # The attendee list is part of the event: calendars take a new list only with a
    # higher SEQUENCE, and the CANCEL to a removed person must outrank their REQUEST.
    revised = bool(changed or added or removed)
    for name in changed:
        setattr(meeting, name, details[name])
    if revised:
        meeting.sequence += 1
    if "starts_at" in changed:
        meeting.times_set_at = now
        Reminder.objects.filter(subject_type="meeting", subject_id=meeting.pk).delete()
    meeting.invite_all = invitees is None
    meeting.save()
    if removed:
        Invitee.objects.filter(meeting=meeting, user_id__in=removed).delete()
    Invitee.objects.bulk_create([Invitee(meeting=meeting, user=u) for u in users if u.pk in added])
    if moved:
        Invitee.objects.filter(meeting=meeting).update(answer="", comment="", answered_at=None)
    activity_record(
        actor=actor,
        verb="meeting.updated",
        group=group,
        summary=f"Meeting “{meeting.title}” changed"
        + (f": {', '.join(changed)}" if changed else ": invitees"),
        data={
            "meeting": meeting.pk,
            "title": meeting.title,
            "changed": changed,
            "sequence": meeting.sequence,
        },
    )
    if revised:
        _queue_emails(meeting.pk, current & wanted, UPDATE)
    _queue_emails(meeting.pk, added, INVITATION)
    _queue_emails(meeting.pk, removed, UNINVITED)
    return meeting


@transaction.atomic
def meeting_cancel(*, actor, meeting: Meeting, reason: str) -> Meeting:
    """Cancel a meeting that has not ended; every invitee gets a METHOD:CANCEL e-mail."""
    group = meeting.group
    _require(actor, "meetings.schedule", group)
    meeting = _locked(meeting)
    if meeting.is_cancelled:
        raise _refuse(_("This meeting is already cancelled."), "cancelled")
    if meeting.ends_at <= timezone.now():
        raise _refuse(_("A meeting that has taken place cannot be cancelled."), "ended")
    reason = (reason or "").strip()
    if not reason:
        raise _refuse(
            _("Say why the meeting is cancelled: the invitees read it."), "required", "reason"
        )
    meeting.state = Meeting.State.CANCELLED
    meeting.cancel_reason = reason[:2000]
    meeting.cancelled_at = timezone.now()
    meeting.sequence += 1
    meeting.save()
    activity_record(
        actor=actor,
        verb="meeting.cancelled",
        group=group,
        summary=f"Meeting “{meeting.title}” cancelled",
        data={"meeting": meeting.pk, "title": meeting.title, "reason": reason},
    )
    _queue_emails(meeting.pk, meeting.invitees.values_list("user_id", flat=True), CANCELLATION)
    return meeting


@transaction.atomic
def meeting_invitations_for_new_member(*, user, group) -> list[Meeting]:
    """Invite someone who has just become an active member of ``group`` to its meetings.

    Adds them to every upcoming, scheduled meeting of the group that invites
    all members (``invite_all``) and queues their invitation (METHOD:REQUEST)
    after commit; meetings with a chosen list of invitees, past or cancelled
    ones are left alone, and so are meetings they are already invited to.
    Returns the meetings they were added to.

    Called by the groups services wherever a membership becomes active, inside
    their transaction: they have checked the permission, and the join is their
    activity. The SEQUENCE is not raised and the other invitees are not
    e-mailed: a group that grows would otherwise flood everybody's inbox.
    """
    if not user.is_active:
        return []
    already = Invitee.objects.filter(meeting=OuterRef("pk"), user=user)
    # Locked like meeting_update locks them: a concurrent change of the same
    # meeting sees this member, or this call sees the changed meeting.
    meetings = list(
        Meeting.objects.select_for_update()
        .filter(
            group=group,
            state=Meeting.State.SCHEDULED,
            invite_all=True,
            starts_at__gt=timezone.now(),
        )
        .exclude(Exists(already))
        .order_by("pk")
    )
    Invitee.objects.bulk_create(
        [Invitee(meeting=meeting, user=user) for meeting in meetings], ignore_conflicts=True
    )
    for meeting in meetings:
        _queue_emails(meeting.pk, [user.pk], INVITATION)
    return meetings


@transaction.atomic
def meeting_answer(*, actor, meeting: Meeting, answer: str, comment: str = "") -> Invitee:
    """An invitee answers yes, no or maybe, with an optional comment (until the start)."""
    _require(actor, "meetings.answer", meeting.group)
    if answer not in Invitee.Answer.values:
        raise _refuse(_("Answer yes, no or maybe."), "invalid", "answer")
    if meeting.is_cancelled:
        raise _refuse(_("This meeting is cancelled."), "cancelled")
    if meeting.starts_at <= timezone.now():
        raise _refuse(_("This meeting has already started: answers are closed."), "started")
    invitee = Invitee.objects.select_for_update().filter(meeting=meeting, user=actor).first()
    if invitee is None:
        raise _refuse(_("You are not invited to this meeting."), "not_invited")
    comment = (comment or "").strip()
    if len(comment) > 500:
        raise _refuse(_("The comment is too long (500 characters at most)."), "too_long", "comment")
    invitee.answer = answer
    invitee.comment = comment
    invitee.answered_at = timezone.now()
    invitee.save(update_fields=["answer", "comment", "answered_at"])
    return invitee


@transaction.atomic
def meeting_attendance_record(*, actor, meeting: Meeting, attendance: dict) -> int:
    """Record who was present, excused or absent (user id → value; "" clears). Returns changes."""
    group = meeting.group
    _require(actor, "meetings.schedule", group)
    if meeting.is_cancelled:
        raise _refuse(_("This meeting was cancelled."), "cancelled")
    if meeting.starts_at > timezone.now():
        raise _refuse(_("Attendance can be recorded once the meeting has started."), "not_started")
    invitees = {i.user_id: i for i in Invitee.objects.select_for_update().filter(meeting=meeting)}
    attendance = {int(k): v for k, v in attendance.items()}
    if set(attendance) - set(invitees):
        raise _refuse(_("Attendance can only be recorded for invitees."), "not_invited")
    allowed = {"", *Invitee.Attendance.values}
    if any(value not in allowed for value in attendance.values()):
        raise _refuse(_("Choose present, excused or absent."), "invalid")
    changed = []
    for user_id, value in attendance.items():
        invitee = invitees[user_id]
        if invitee.attendance != value:
            invitee.attendance = value
            changed.append(invitee)
    if changed:
        Invitee.objects.bulk_update(changed, ["attendance"])
        activity_record(
            actor=actor,
            verb="meeting.attendance_recorded",
            group=group,
            summary=f"Attendance of “{meeting.title}” recorded",
            data={"meeting": meeting.pk, "title": meeting.title},
        )
    return len(changed)


@transaction.atomic
def meeting_minutes_save(
    *, actor, meeting: Meeting, minutes: str, minutes_document=None
) -> Meeting:
    """Save the minutes of a meeting that has started, as text and/or a document of the group.

    Invitees are told the first time minutes appear.
    """
    group = meeting.group
    _require(actor, "meetings.schedule", group)
    meeting = _locked(meeting)
    if meeting.is_cancelled:
        raise _refuse(_("This meeting was cancelled."), "cancelled")
    if meeting.starts_at > timezone.now():
        raise _refuse(_("Minutes can be added once the meeting has started."), "not_started")
    minutes = (minutes or "").strip()
    errors = _Errors()
    if len(minutes) > 100_000:
        errors.add("minutes", _("The minutes are too long."), "too_long")
    document = _clean_document(errors, group, minutes_document, "minutes_document")
    errors.check()
    had_minutes = bool(meeting.minutes or meeting.minutes_document_id)
    if minutes == meeting.minutes and meeting.minutes_document_id == (document and document.pk):
        return meeting
    first = not had_minutes and bool(minutes or document)
    meeting.minutes = minutes
    meeting.minutes_document = document
    meeting.minutes_updated_at = timezone.now()
    meeting.save(update_fields=["minutes", "minutes_document", "minutes_updated_at", "updated_at"])
    activity_record(
        actor=actor,
        verb="meeting.minutes_saved",
        group=group,
        summary=f"Minutes of “{meeting.title}” saved",
        data={"meeting": meeting.pk, "title": meeting.title},
    )
    if first:
        title = meeting.title
        notify(
            users=[i.user for i in meeting.invitees.select_related("user")],
            category="meetings",
            title=lambda: _("The minutes of “%(title)s” are available") % {"title": title},
            url=meeting.get_absolute_url(),
        )
    return meeting


# --- Date polls ------------------------------------------------------------


@transaction.atomic
def poll_create(
    *,
    actor,
    group,
    title: str,
    timezone_name: str,
    closes_at: datetime,
    slots: Sequence[tuple[datetime, datetime]],
    agenda: str = "",
    place: str = "",
    online_url: str = "",
) -> DatePoll:
    """Propose several slots to the members; voting closes at ``closes_at``.

    Slot errors are reported under ``slot-<index>`` (index in ``slots``),
    or ``slots`` for the list as a whole.
    """
    _require(actor, "meetings.schedule", group)
    now = timezone.now()
    errors = _Errors()
    details = _clean_details(
        errors,
        title=title,
        agenda=agenda,
        place=place,
        online_url=online_url,
        timezone_name=timezone_name,
    )
    if "timezone" in errors.errors:
        errors.check()
    closes = _moment(errors, closes_at, timezone_name, "closes_at")
    if closes is not None and closes <= now:
        errors.add("closes_at", _("Voting must close in the future."), "past")
    if not slots:
        errors.add("slots", _("Propose at least one slot."), "required")
    elif len(slots) > MAX_SLOTS:
        errors.add("slots", _("Propose at most %(n)d slots.") % {"n": MAX_SLOTS}, "too_many")
    moments: list[tuple[datetime, datetime]] = []
    for index, (start_local, end_local) in enumerate(slots):
        field = f"slot-{index}"
        start = _moment(errors, start_local, timezone_name, field)
        end = _moment(errors, end_local, timezone_name, field)
        _check_span(errors, start, end, now=now, start_field=field, end_field=field)
        if start is None or end is None or field in errors.errors:
            continue
        if (start, end) in moments:
            errors.add(field, _("This slot is proposed twice."), "duplicate")
            continue
        if closes is not None and closes > start:
            errors.add(
                field,
                _("Voting must close before this slot starts."),
                "closes_after_slot",
            )
        moments.append((start, end))
    errors.check()
    poll = DatePoll.objects.create(group=group, closes_at=closes, created_by=actor, **details)
    PollSlot.objects.bulk_create(
        [PollSlot(poll=poll, starts_at=start, ends_at=end) for start, end in sorted(moments)]
    )
    activity_record(
        actor=actor,
        verb="poll.created",
        group=group,
        summary=f"Date poll “{poll.title}” opened with {len(moments)} slots",
        data={"poll": poll.pk, "title": poll.title, "slots": len(moments)},
    )
    poll_title = poll.title
    notify(
        users=_member_users(group).values(),
        category="meetings",
        title=lambda: _("Which dates suit you for “%(title)s”?") % {"title": poll_title},
        body=gettext_lazy("A coordinator proposes several dates. Answer before voting closes."),
        url=poll.get_absolute_url(),
    )
    return poll


def _poll_open_for_votes(poll: DatePoll) -> bool:
    return poll.state == DatePoll.State.OPEN and poll.closes_at > timezone.now()


@transaction.atomic
def poll_vote(*, actor, poll: DatePoll, choices: dict) -> list[PollVote]:
    """A member answers yes, if need be, or no per slot (slot id → choice).

    Replaces the member's earlier answers to the poll.
    """
    _require(actor, "meetings.answer", poll.group)
    poll_state = (
        DatePoll.objects.select_for_update().values_list("state", "closes_at").get(pk=poll.pk)
    )
    poll.state, poll.closes_at = poll_state
    if not _poll_open_for_votes(poll):
        raise _refuse(_("Voting on this poll has closed."), "closed")
    slot_ids = set(poll.slots.values_list("pk", flat=True))
    try:
        choices = {int(k): v for k, v in choices.items() if v}
    except (TypeError, ValueError):
        raise _refuse(_("A slot is not part of this poll."), "unknown_slot") from None
    if set(choices) - slot_ids:
        raise _refuse(_("A slot is not part of this poll."), "unknown_slot")
    if not choices:
        raise _refuse(_("Answer for at least one slot."), "required")
    if any(value not in PollVote.Choice.values for value in choices.values()):
        raise _refuse(_("Answer yes, if need be, or no."), "invalid")
    PollVote.objects.filter(poll=poll, user=actor).delete()
    return PollVote.objects.bulk_create(
        [
            PollVote(poll=poll, slot_id=slot_id, user=actor, choice=value)
            for slot_id, value in sorted(choices.items())
        ]
    )


@transaction.atomic
def poll_close(*, actor, poll: DatePoll, slot_id: int) -> Meeting:
    """Decide: the chosen slot becomes a meeting, with its invitations, in one step."""
    group = poll.group
    _require(actor, "meetings.schedule", group)
    poll = DatePoll.objects.select_for_update().get(pk=poll.pk)
    poll.group = group
    if poll.state == DatePoll.State.DECIDED:
        raise _refuse(_("This poll has already been decided."), "decided")
    if poll.state == DatePoll.State.CANCELLED:
        raise _refuse(_("This poll was cancelled."), "cancelled")
    slot = PollSlot.objects.filter(poll=poll, pk=slot_id).first() if slot_id else None
    if slot is None:
        raise _refuse(_("Choose one of the proposed slots."), "unknown_slot", "slot")
    try:
        meeting = meeting_schedule(
            actor=actor,
            group=group,
            title=poll.title,
            agenda=poll.agenda,
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
            timezone_name=poll.timezone,
            place=poll.place,
            online_url=poll.online_url,
        )
    except MeetingError as exc:
        raise MeetingError({"slot": exc.messages}) from exc
    poll.state = DatePoll.State.DECIDED
    poll.decided_at = timezone.now()
    poll.decided_by = actor
    poll.meeting = meeting
    poll.save(update_fields=["state", "decided_at", "decided_by", "meeting"])
    activity_record(
        actor=actor,
        verb="poll.decided",
        group=group,
        summary=f"Date poll “{poll.title}” decided: {_utc_label(slot.starts_at)}",
        data={
            "poll": poll.pk,
            "meeting": meeting.pk,
            "title": poll.title,
            "slot": slot.starts_at.isoformat(),
        },
    )
    return meeting


@transaction.atomic
def poll_cancel(*, actor, poll: DatePoll) -> DatePoll:
    group = poll.group
    _require(actor, "meetings.schedule", group)
    poll = DatePoll.objects.select_for_update().get(pk=poll.pk)
    poll.group = group
    if poll.state != DatePoll.State.OPEN:
        raise _refuse(_("Only an open poll can be cancelled."), "not_open")
    poll.state = DatePoll.State.CANCELLED
    poll.decided_at = timezone.now()
    poll.decided_by = actor
    poll.save(update_fields=["state", "decided_at", "decided_by"])
    activity_record(
        actor=actor,
        verb="poll.cancelled",
        group=group,
        summary=f"Date poll “{poll.title}” cancelled",
        data={"poll": poll.pk, "title": poll.title},
    )
    return poll


# --- Calendar feed ---------------------------------------------------------


def calendar_feed_of(*, user) -> CalendarFeed:
    """The user's feed, created with a fresh secret on first use."""
    feed, _created = CalendarFeed.objects.get_or_create(user=user)
    return feed


@transaction.atomic
def calendar_feed_regenerate(*, user) -> CalendarFeed:
    """A new secret: the old feed URL stops working at once."""
    from .models import _feed_token

    feed, created = CalendarFeed.objects.select_for_update().get_or_create(user=user)
    if not created:
        feed.token = _feed_token()
        feed.regenerated_at = timezone.now()
        feed.save(update_fields=["token", "regenerated_at"])
    activity_record(actor=user, verb="calendar.feed_regenerated", summary="Calendar feed renewed")
    return feed
