"""Thin views: load what the viewer may see, call one service, show the result.

A group's meetings and polls answer 404 to anyone who may not see the group
(and for another group's meeting id under this group's address); an action
the viewer may see but not do answers 403.
"""

from datetime import date, timedelta
from itertools import groupby

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.db.models.functions import Lower
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
    require_safe,
)

from documents.models import Document
from groups import selectors as group_selectors
from groups.models import ExpertGroup
from portal.decorators import read_only
from portal.pagination import Paginator

from . import ics, selectors, services
from .forms import (
    AnswerForm,
    AttendanceForm,
    CancelForm,
    MeetingForm,
    MinutesForm,
    PollCloseForm,
    PollForm,
    SlotFormSet,
    VoteForm,
)
from .models import CalendarFeed, DatePoll, Meeting
from .services import MeetingError
from .timezones import utc_to_local


def _group(request, slug: str, perm: str = "meetings.view") -> ExpertGroup:
    """The group if the viewer may see it (404 otherwise) and holds ``perm`` (403 otherwise)."""
    try:
        group = group_selectors.group_for_viewer(slug=slug)
    except ExpertGroup.DoesNotExist:
        raise Http404 from None
    if not request.user.has_perm("meetings.view", group):
        raise Http404
    if perm != "meetings.view" and not request.user.has_perm(perm, group):
        raise PermissionDenied
    return group


def _meeting(group, pk: int) -> Meeting:
    try:
        return selectors.meeting_for_viewer(group=group, pk=pk)
    except Meeting.DoesNotExist:
        raise Http404 from None


def _poll(group, pk: int) -> DatePoll:
    try:
        return selectors.poll_for_viewer(group=group, pk=pk)
    except DatePoll.DoesNotExist:
        raise Http404 from None


def _context(request, group, **extra) -> dict:
    user = request.user
    return {
        "group": group,
        "life": group.lifecycle,
        "tab": "meetings",
        "can": {
            "manage_group": user.has_perm("groups.manage_group", group),
            "schedule": user.has_perm("meetings.schedule", group),
            "answer": user.has_perm("meetings.answer", group),
            "view_answers": user.has_perm("meetings.view_answers", group),
        },
        **extra,
    }


def _errors_to_messages(request, exc: MeetingError) -> None:
    for message in exc.messages:
        messages.error(request, message)


def _members(group):
    """The group's active members as users, to choose invitees from."""
    from accounts.models import User

    return User.objects.filter(
        pk__in=group_selectors.members_of(group).values("user_id"), is_active=True
    ).order_by("full_name", "email")


def _documents(group):
    """The group's documents outside the bin, to choose an agenda or minutes from."""
    return Document.objects.filter(group=group, binned_at__isnull=True).order_by(Lower("title"))


def _ics_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- A group's meetings ------------------------------------------------------


@read_only
def group_meetings(request, slug: str):
    group = _group(request, slug)
    now = timezone.now()
    past = Paginator(
        selectors.past_of_group(group, user=request.user, now=now),
        settings.MEETING_PAGE_SIZE,
        count_from=selectors.past_rows_of_group(group, now=now),
    )
    return render(
        request,
        "meetings/group_list.html",
        _context(
            request,
            group,
            upcoming=list(selectors.upcoming_of_group(group, user=request.user)),
            past=past.get_page(request.GET.get("page")),
            polls=list(selectors.polls_of_group(group, user=request.user)[:50]),
        ),
    )


@require_http_methods(["GET", "POST"])
def schedule(request, slug: str):
    group = _group(request, slug, "meetings.schedule")
    form = MeetingForm(
        request.POST or None,
        members=_members(group),
        documents=_documents(group),
        initial={"timezone": request.user.timezone},
    )
    if request.method == "POST" and form.is_valid():
        try:
            meeting = services.meeting_schedule(
                actor=request.user, group=group, **form.service_arguments()
            )
        except MeetingError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("The meeting is scheduled and the invitations are sent."))
            return redirect(meeting.get_absolute_url())
    return render(
        request, "meetings/meeting_form.html", _context(request, group, form=form, meeting=None)
    )


@read_only
def detail(request, slug: str, pk: int):
    group = _group(request, slug)
    meeting = _meeting(group, pk)
    user = request.user
    invitees = selectors.invitees_of(meeting)
    mine = next((i for i in invitees if i.user_id == user.pk), None)
    now = timezone.now()
    upcoming = not meeting.is_cancelled and meeting.starts_at > now
    context = _context(
        request,
        group,
        meeting=meeting,
        invitees=invitees,
        summary=selectors.answer_summary(invitees),
        mine=mine,
        started=meeting.starts_at <= now,
        upcoming=upcoming,
        recorded=[i for i in invitees if i.attendance],
    )
    can = context["can"]
    can["edit"] = can["schedule"] and upcoming
    can["cancel"] = can["schedule"] and not meeting.is_cancelled and meeting.ends_at > now
    can["record"] = can["schedule"] and not meeting.is_cancelled and meeting.starts_at <= now
    can["answer_here"] = can["answer"] and upcoming and mine is not None
    if can["answer_here"]:
        context["answer_form"] = AnswerForm(
            initial={"answer": mine.answer, "comment": mine.comment}
        )
    return render(request, "meetings/detail.html", context)


@require_http_methods(["GET", "POST"])
def edit(request, slug: str, pk: int):
    group = _group(request, slug, "meetings.schedule")
    meeting = _meeting(group, pk)
    if meeting.is_cancelled or meeting.starts_at <= timezone.now():
        messages.error(request, _("This meeting can no longer be changed."))
        return redirect(meeting.get_absolute_url())
    invited = list(meeting.invitees.values_list("user_id", flat=True))
    initial = {
        "title": meeting.title,
        "agenda": meeting.agenda,
        "starts_at": utc_to_local(meeting.starts_at, meeting.timezone),
        "ends_at": utc_to_local(meeting.ends_at, meeting.timezone),
        "timezone": meeting.timezone,
        "place": meeting.place,
        "online_url": meeting.online_url,
        "invite": "all" if meeting.invite_all else "selection",
        "invitees": invited,
        "agenda_document": meeting.agenda_document_id,
    }
    form = MeetingForm(
        request.POST or None, members=_members(group), documents=_documents(group), initial=initial
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.meeting_update(actor=request.user, meeting=meeting, **form.service_arguments())
        except MeetingError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("The meeting is saved; the invitees are told of changes."))
            return redirect(meeting.get_absolute_url())
    return render(
        request, "meetings/meeting_form.html", _context(request, group, form=form, meeting=meeting)
    )


@require_http_methods(["GET", "POST"])
def cancel(request, slug: str, pk: int):
    group = _group(request, slug, "meetings.schedule")
    meeting = _meeting(group, pk)
    form = CancelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.meeting_cancel(
                actor=request.user, meeting=meeting, reason=form.cleaned_data["reason"]
            )
        except MeetingError as exc:
            if "reason" in exc.message_dict:
                form.add_error(None, exc)
            else:
                _errors_to_messages(request, exc)
                return redirect(meeting.get_absolute_url())
        else:
            messages.success(request, _("The meeting is cancelled; the invitees are told."))
            return redirect(meeting.get_absolute_url())
    return render(
        request, "meetings/cancel.html", _context(request, group, form=form, meeting=meeting)
    )


@require_POST
def answer(request, slug: str, pk: int):
    group = _group(request, slug, "meetings.answer")
    meeting = _meeting(group, pk)
    form = AnswerForm(request.POST)
    if form.is_valid():
        try:
            services.meeting_answer(actor=request.user, meeting=meeting, **form.cleaned_data)
        except MeetingError as exc:
            _errors_to_messages(request, exc)
        else:
            messages.success(request, _("Your answer is saved."))
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect(meeting.get_absolute_url())


@require_http_methods(["GET", "POST"])
def attendance(request, slug: str, pk: int):
    group = _group(request, slug, "meetings.schedule")
    meeting = _meeting(group, pk)
    invitees = selectors.invitees_of(meeting)
    form = AttendanceForm(request.POST or None, invitees=invitees)
    if request.method == "POST" and form.is_valid():
        try:
            services.meeting_attendance_record(
                actor=request.user, meeting=meeting, attendance=form.attendance()
            )
        except MeetingError as exc:
            _errors_to_messages(request, exc)
        else:
            messages.success(request, _("The attendance register is saved."))
        return redirect(meeting.get_absolute_url())
    return render(
        request,
        "meetings/attendance.html",
        _context(request, group, form=form, meeting=meeting, invitees=invitees),
    )


@require_http_methods(["GET", "POST"])
def minutes(request, slug: str, pk: int):
    group = _group(request, slug, "meetings.schedule")
    meeting = _meeting(group, pk)
    form = MinutesForm(
        request.POST or None,
        documents=_documents(group),
        initial={"minutes": meeting.minutes, "minutes_document": meeting.minutes_document_id},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.meeting_minutes_save(actor=request.user, meeting=meeting, **form.cleaned_data)
        except MeetingError as exc:
            if set(exc.message_dict) & {"minutes", "minutes_document"}:
                form.add_error(None, exc)
            else:
                _errors_to_messages(request, exc)
                return redirect(meeting.get_absolute_url())
        else:
            messages.success(request, _("The minutes are saved."))
            return redirect(meeting.get_absolute_url())
    return render(
        request, "meetings/minutes.html", _context(request, group, form=form, meeting=meeting)
    )


@require_GET
def meeting_download(request, slug: str, pk: int):
    group = _group(request, slug)
    meeting = _meeting(group, pk)
    meeting.group = group
    return _ics_response(ics.meeting_ics(meeting), f"meeting-{meeting.pk}.ics")


# --- Date polls ------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def poll_create(request, slug: str):
    group = _group(request, slug, "meetings.schedule")
    form = PollForm(request.POST or None, initial={"timezone": request.user.timezone})
    slots = SlotFormSet(request.POST or None, prefix="slots")
    slot_errors: list[str] = []
    if request.method == "POST" and form.is_valid() and slots.is_valid():
        filled = [
            (i, f.cleaned_data["starts_at"], f.cleaned_data["ends_at"])
            for i, f in enumerate(slots.forms)
            if f.cleaned_data.get("starts_at") and f.cleaned_data.get("ends_at")
        ]
        try:
            poll = services.poll_create(
                actor=request.user,
                group=group,
                slots=[(start, end) for _i, start, end in filled],
                **form.service_arguments(),
            )
        except MeetingError as exc:
            for key, errors in exc.message_dict.items():
                if key.startswith("slot-"):
                    form_index = filled[int(key.removeprefix("slot-"))][0]
                    for error in errors:
                        slots.forms[form_index].add_error("starts_at", error)
                elif key == "slots":
                    slot_errors.extend(errors)
                elif key in form.fields:
                    for error in errors:
                        form.add_error(key, error)
                else:
                    for error in errors:
                        form.add_error(None, error)
        else:
            messages.success(request, _("The poll is open; the members are asked to answer."))
            return redirect(poll.get_absolute_url())
    if slots.is_bound and slots.non_form_errors():
        slot_errors.extend(slots.non_form_errors())
    return render(
        request,
        "meetings/poll_form.html",
        _context(request, group, form=form, slots=slots, slot_errors=slot_errors),
    )


@require_GET
def poll_detail(request, slug: str, pk: int):
    group = _group(request, slug)
    poll = _poll(group, pk)
    return render(request, "meetings/poll_detail.html", _poll_context(request, group, poll))


def _poll_context(request, group, poll, *, vote_form=None) -> dict:
    table = selectors.poll_table(poll, viewer=request.user)
    context = _context(request, group, poll=poll, table=table)
    can = context["can"]
    voting = poll.state == DatePoll.State.OPEN and poll.closes_at > timezone.now()
    context["voting_open"] = voting
    can["vote"] = can["answer"] and voting
    can["decide"] = can["schedule"] and poll.state == DatePoll.State.OPEN
    if can["vote"]:
        context["vote_form"] = vote_form or VoteForm(
            slots=[c.slot for c in table.columns], initial_choices=table.mine
        )
    if can["decide"]:
        context["close_form"] = PollCloseForm(columns=table.columns)
    return context


@require_POST
def poll_vote(request, slug: str, pk: int):
    group = _group(request, slug, "meetings.answer")
    poll = _poll(group, pk)
    slots = list(poll.slots.all())
    form = VoteForm(request.POST, slots=slots)
    if form.is_valid():
        try:
            services.poll_vote(actor=request.user, poll=poll, choices=form.choices())
        except MeetingError as exc:
            _errors_to_messages(request, exc)
        else:
            messages.success(request, _("Your answers are saved."))
            return redirect(poll.get_absolute_url())
    else:
        messages.error(request, _("Answer yes, if need be, or no for each slot."))
    return redirect(poll.get_absolute_url())


@require_POST
def poll_close(request, slug: str, pk: int):
    group = _group(request, slug, "meetings.schedule")
    poll = _poll(group, pk)
    try:
        slot_id = int(request.POST.get("slot", ""))
    except ValueError:
        slot_id = 0
    try:
        meeting = services.poll_close(actor=request.user, poll=poll, slot_id=slot_id)
    except MeetingError as exc:
        _errors_to_messages(request, exc)
        return redirect(poll.get_absolute_url())
    messages.success(
        request, _("The date is set: the meeting is scheduled and the invitations are sent.")
    )
    return redirect(meeting.get_absolute_url())


@require_POST
def poll_cancel(request, slug: str, pk: int):
    group = _group(request, slug, "meetings.schedule")
    poll = _poll(group, pk)
    try:
        services.poll_cancel(actor=request.user, poll=poll)
    except MeetingError as exc:
        _errors_to_messages(request, exc)
    else:
        messages.success(request, _("The poll is cancelled."))
    return redirect(poll.get_absolute_url())


# --- Across my groups ------------------------------------------------------


def _agenda(request, meetings, tab: str):
    """One page of ``meetings``, grouped by their day in the viewer's zone."""
    page = Paginator(meetings, settings.MEETING_PAGE_SIZE).get_page(request.GET.get("page"))
    tz = timezone.get_current_timezone()
    days = [
        (day, list(rows))
        for day, rows in groupby(page.object_list, key=lambda m: m.starts_at.astimezone(tz).date())
    ]
    return render(request, "meetings/mine.html", {"page": page, "days": days, "tab": tab})


@require_GET
def my_meetings(request):
    return _agenda(request, selectors.agenda_of_user(request.user), "agenda")


@require_GET
def my_past_meetings(request):
    return _agenda(request, selectors.past_of_user(request.user), "past")


def _month_from(value: str, today: date) -> tuple[int, int]:
    try:
        year, month = (int(part) for part in value.split("-"))
        date(year, month, 1)
    except ValueError:
        return today.year, today.month
    if not 1900 <= year <= 2999:
        return today.year, today.month
    return year, month


@require_GET
def month(request):
    tz = timezone.get_current_timezone()
    today = timezone.now().astimezone(tz).date()
    year, month_number = _month_from(request.GET.get("month", ""), today)
    grid = selectors.month_of_user(request.user, year=year, month=month_number, tz=tz)
    return render(request, "meetings/month.html", {"month": grid, "tab": "month"})


@require_GET
def feed_settings(request):
    feed = CalendarFeed.objects.filter(user=request.user).first()
    url = request.build_absolute_uri(feed.get_absolute_url()) if feed else ""
    return render(request, "meetings/feed.html", {"feed": feed, "feed_url": url, "tab": "feed"})


@require_POST
def feed_regenerate(request):
    existed = CalendarFeed.objects.filter(user=request.user).exists()
    services.calendar_feed_regenerate(user=request.user)
    if existed:
        messages.success(
            request, _("Your calendar has a new address; the old one no longer works.")
        )
    else:
        messages.success(request, _("Your calendar address is ready."))
    return redirect("meetings:feed_settings")


@login_not_required
@require_safe
def feed(request, token: str):
    """The private calendar feed: authenticated by its secret token, not by a session."""
    feed = CalendarFeed.objects.select_related("user").filter(token=token).first()
    if feed is None or not feed.user.is_active:
        raise Http404
    user = feed.user
    since = timezone.now() - timedelta(days=settings.MEETING_FEED_PAST_DAYS)
    content = ics.feed_ics(
        selectors.feed_meetings_of_user(user, since=since).iterator(chunk_size=2000),
        user=user,
        name=gettext_lazy("Expert Group Portal meetings"),
    )
    response = HttpResponse(content, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="meetings.ics"'
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex"
    return response
