"""Thin views: load what the viewer may see, call one service, show the result."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.rules import secretariat_required
from portal.activity_text import activity_people_load
from portal.csvexport import csv_response
from portal.decorators import read_only
from portal.pagination import Paginator
from portal.selectors import activities, activity_table

from . import exports, selectors, services
from .forms import (
    AppointForm,
    AuditFilterForm,
    CloseForm,
    ExtensionDecisionForm,
    ExtensionRequestForm,
    GroupCreateForm,
    GroupEditForm,
    InvitationForm,
    JoinRequestForm,
)
from .models import ExtensionRequest, Membership
from .rules import group_pks_viewable
from .services import GroupError

INVITATION_SESSION_KEY = "groups.invitation_token"


def _group(request, slug: str, perm: str = "groups.view_group"):
    """The group if the viewer holds ``perm`` on it; 404 otherwise (no leak of existence)."""
    try:
        group = selectors.group_for_viewer(slug=slug)
    except selectors.ExpertGroup.DoesNotExist:
        raise Http404 from None
    if not request.user.has_perm(perm, group):
        raise Http404
    return group


def _error(request, exc: GroupError) -> None:
    for message in exc.messages:
        messages.error(request, message)


def _context(request, group, tab: str, **extra):
    user = request.user
    membership = selectors.open_membership(user, group)
    return {
        "group": group,
        "life": group.lifecycle,
        "tab": tab,
        "membership": membership,
        "can": {
            "manage_members": user.has_perm("groups.manage_members", group),
            "request_extension": user.has_perm("groups.request_extension", group)
            and group.lifecycle.can_request_extension,
            "manage_group": user.has_perm("groups.manage_group", group),
            "contribute": user.has_perm("groups.contribute", group),
        },
        **extra,
    }


def public_lists(request) -> dict:
    """The public list of groups (the home page): current and past, each paginated.

    Each group carries ``viewer_may_open``: members (and the secretariat) are
    linked to the group's private page, everyone else to its public page, where
    the join form is. A fixed number of queries whatever the number of groups.
    """
    size = settings.GROUP_PAGE_SIZE
    current = Paginator(selectors.groups_public_current(), size).get_page(request.GET.get("page"))
    past = Paginator(selectors.groups_public_past(), size).get_page(request.GET.get("past_page"))
    shown = [*current, *past]
    viewable = group_pks_viewable(request.user, shown)
    for group in shown:
        group.viewer_may_open = group.pk in viewable
    return {"current_groups": current, "past_groups": past}


def _public_group(request, slug: str):
    """The group as the public sees it: one that has not started is 404 to non-members."""
    group = get_object_or_404(selectors.groups_with_lifecycle(), slug=slug)
    if group.lifecycle.state == "proposed" and not request.user.has_perm(
        "groups.view_group", group
    ):
        raise Http404
    return group


@login_not_required
@require_GET
def public_detail(request, slug: str):
    group = _public_group(request, slug)
    membership = (
        selectors.open_membership(request.user, group) if request.user.is_authenticated else None
    )
    return render(
        request,
        "groups/public_detail.html",
        {
            "group": group,
            "membership": membership,
            "is_member": request.user.has_perm("groups.view_group", group),
            "can_join": request.user.has_perm("groups.request_join", group) and membership is None,
            "form": JoinRequestForm(),
        },
    )


@read_only
def detail(request, slug: str):
    group = _group(request, slug)
    return render(
        request,
        "groups/detail.html",
        _context(
            request,
            group,
            "overview",
            mandates=list(group.mandates.all()),
            extension_requests=group.extension_requests.select_related(
                "requested_by", "decided_by"
            ),
            coordinators=list(selectors.coordinators_of(group)),
            recent=activity_people_load(activities(group=group, with_group=False)[:5], group=group),
        ),
    )


@read_only
def members(request, slug: str):
    group = _group(request, slug)
    manage = request.user.has_perm("groups.manage_members", group)
    return render(
        request,
        "groups/members.html",
        _context(
            request,
            group,
            "members",
            members=selectors.members_of(group),
            pending=selectors.pending_requests_of(group) if manage else [],
            invitations=group.invitations.filter(accepted_at=None, declined_at=None)
            if manage
            else [],
            history=selectors.membership_history_of(group)[:200] if manage else [],
            invite_form=InvitationForm(),
        ),
    )


@require_GET
def activity(request, slug: str):
    group = _group(request, slug, "groups.view_activity")
    page = Paginator(activities(group=group, with_group=False), 50).get_page(
        request.GET.get("page")
    )
    page.object_list = activity_people_load(page.object_list, group=group)
    return render(request, "groups/activity.html", _context(request, group, "activity", page=page))


@require_POST
def join(request, slug: str):
    group = _public_group(request, slug)
    form = JoinRequestForm(request.POST)
    if form.is_valid():
        try:
            services.membership_request(
                actor=request.user, group=group, motivation=form.cleaned_data["motivation"]
            )
        except PermissionDenied:
            raise Http404 from None
        except GroupError as exc:
            _error(request, exc)
        else:
            messages.success(request, _("Your request has been sent to the coordinators."))
            return redirect(group.get_public_url())
    membership = selectors.open_membership(request.user, group)
    return render(
        request,
        "groups/public_detail.html",
        {
            "group": group,
            "form": form,
            "membership": membership,
            "can_join": request.user.has_perm("groups.request_join", group) and membership is None,
        },
        status=400 if form.errors else 200,
    )


@require_POST
def leave(request, slug: str):
    group = _group(request, slug)
    try:
        services.membership_leave(actor=request.user, group=group)
    except GroupError as exc:
        _error(request, exc)
        return redirect(group.get_absolute_url())
    messages.success(request, _("You have left %(group)s.") % {"group": group.name})
    return redirect("dashboard")


@require_POST
def confirm_term(request, slug: str):
    group = _group(request, slug)
    try:
        services.membership_confirm_term(actor=request.user, group=group)
    except GroupError as exc:
        _error(request, exc)
    else:
        messages.success(request, _("Thank you: you stay a member for the new term."))
    return redirect(group.get_absolute_url())


@require_POST
def invite(request, slug: str):
    group = _group(request, slug, "groups.manage_members")
    form = InvitationForm(request.POST)
    if form.is_valid():
        try:
            services.invitation_create(actor=request.user, group=group, **form.cleaned_data)
        except GroupError as exc:
            _error(request, exc)
        else:
            messages.success(
                request, _("Invitation sent to %(email)s.") % {"email": form.cleaned_data["email"]}
            )
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect("groups:members", slug=group.slug)


MEMBERSHIP_ACTIONS = {"approve", "decline", "remove", "promote", "step-down"}


@require_POST
def membership_action(request, slug: str, pk: int, action: str):
    group = _group(request, slug)
    if action not in MEMBERSHIP_ACTIONS:
        raise Http404
    membership = get_object_or_404(Membership.objects.select_related("user"), pk=pk, group=group)
    membership.group = group
    # No database may store NUL (PostgreSQL refuses it: a 500); the page has no such field.
    reason = request.POST.get("reason", "").replace("\x00", "")[:200]
    try:
        if action == "approve":
            services.membership_approve(actor=request.user, membership=membership)
            messages.success(request, _("%(user)s is now a member.") % {"user": membership.user})
        elif action == "decline":
            services.membership_decline(actor=request.user, membership=membership, reason=reason)
            messages.success(request, _("The request has been declined."))
        elif action == "remove":
            services.membership_remove(actor=request.user, membership=membership, reason=reason)
            messages.success(request, _("%(user)s has been removed.") % {"user": membership.user})
        elif action == "promote":
            services.membership_set_role(
                actor=request.user, membership=membership, role=Membership.Role.COORDINATOR
            )
            messages.success(
                request, _("%(user)s is now a coordinator.") % {"user": membership.user}
            )
        else:
            services.membership_set_role(
                actor=request.user, membership=membership, role=Membership.Role.MEMBER
            )
            messages.success(request, _("The coordinator role has been handed back."))
    except GroupError as exc:
        _error(request, exc)
    except PermissionDenied:
        raise Http404 from None
    return redirect("groups:members", slug=group.slug)


@login_not_required
@require_http_methods(["GET", "POST"])
def invitation(request, token: str):
    invitation = services.invitation_for(token)
    if invitation is None:
        raise Http404
    if not request.user.is_authenticated:
        # Keep the token through signup and e-mail verification; the adapter brings
        # the person back here after their first login.
        request.session[INVITATION_SESSION_KEY] = token
        return render(request, "groups/invitation_anonymous.html", {"invitation": invitation})
    if request.method == "POST":
        request.session.pop(INVITATION_SESSION_KEY, None)
        try:
            if request.POST.get("answer") == "decline":
                services.invitation_decline(actor=request.user, invitation=invitation)
                messages.info(request, _("You declined the invitation."))
                return redirect("dashboard")
            services.invitation_accept(actor=request.user, invitation=invitation)
        except GroupError as exc:
            _error(request, exc)
            return redirect("dashboard")
        messages.success(request, _("Welcome to %(group)s.") % {"group": invitation.group.name})
        return redirect(invitation.group.get_absolute_url())
    return render(request, "groups/invitation.html", {"invitation": invitation})


@require_http_methods(["GET", "POST"])
def extension_request(request, slug: str):
    group = _group(request, slug)
    if not request.user.has_perm("groups.request_extension", group):
        raise PermissionDenied
    unavailable = selectors.extension_unavailable_reason(group)
    if unavailable is not None:
        # Expired, extended already or waiting for a decision: say so on the group page
        # (the service refuses a forged post with the same message).
        messages.error(request, unavailable)
        return redirect(group.get_absolute_url())
    form = ExtensionRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.extension_request(
                actor=request.user, group=group, justification=form.cleaned_data["justification"]
            )
        except GroupError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Your request has been sent to the secretariat."))
            return redirect(group.get_absolute_url())
    return render(
        request, "groups/extension_request.html", _context(request, group, "overview", form=form)
    )


# --- Secretariat -----------------------------------------------------------


@secretariat_required
@require_GET
def secretariat_dashboard(request):
    overview = selectors.secretariat_overview(state=request.GET.get("state", ""))
    pending = ExtensionRequest.objects.filter(state="pending").select_related(
        "group", "requested_by", "mandate"
    )
    return render(
        request,
        "groups/secretariat_dashboard.html",
        {
            "overview": overview,
            "groups": overview.groups,
            "pending": pending,
            "decision_form": ExtensionDecisionForm(),
        },
    )


@secretariat_required
@require_http_methods(["GET", "POST"])
def create(request):
    form = GroupCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            group = services.group_create(
                actor=request.user,
                name=data["name"],
                slug=data["slug"],
                kind=data["kind"],
                summary=data["summary"],
                description=data["description"],
                standing_membership=data["standing_membership"],
                start_date=data["start_date"],
                coordinators=list(data["coordinators"]),
            )
        except GroupError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("The group has been created."))
            return redirect(group.get_absolute_url())
    return render(request, "groups/group_form.html", {"form": form, "creating": True})


@secretariat_required
@require_http_methods(["GET", "POST"])
def edit(request, slug: str):
    group = _group(request, slug, "groups.manage_group")
    form = GroupEditForm(request.POST or None, instance=group)
    if request.method == "POST" and form.is_valid():
        try:
            services.group_update(actor=request.user, group=group, data=form.cleaned_data)
        except GroupError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("The group has been saved."))
            return redirect(group.get_absolute_url())
    return render(request, "groups/group_form.html", {"form": form, "group": group})


@secretariat_required
@require_POST
def extension_decide(request, pk: int):
    extension = get_object_or_404(
        ExtensionRequest.objects.select_related("group", "mandate"), pk=pk
    )
    form = ExtensionDecisionForm(request.POST)
    if form.is_valid():
        try:
            services.extension_decide(
                actor=request.user,
                request=extension,
                approve=form.cleaned_data["decision"] == "approve",
                reason=form.cleaned_data["reason"],
            )
        except GroupError as exc:
            _error(request, exc)
        else:
            messages.success(request, _("The decision has been recorded."))
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect("groups:secretariat_dashboard")


@secretariat_required
@require_POST
def close(request, slug: str):
    group = _group(request, slug, "groups.manage_group")
    form = CloseForm(request.POST)
    if form.is_valid():
        try:
            services.group_close(
                actor=request.user, group=group, reason=form.cleaned_data["reason"]
            )
        except GroupError as exc:
            _error(request, exc)
        else:
            messages.success(request, _("The group has been closed."))
    else:
        messages.error(request, _("Say why the group closes early."))
    return redirect(group.get_absolute_url())


@secretariat_required
@require_POST
def archive(request, slug: str):
    group = _group(request, slug, "groups.manage_group")
    try:
        services.group_archive(
            actor=request.user,
            group=group,
            include_all_versions=request.POST.get("include_all_versions") == "on",
        )
    except GroupError as exc:
        _error(request, exc)
    else:
        messages.success(
            request, _("The group has been archived. Its archive package is being built.")
        )
        return redirect("groups:archive_package", slug=group.slug)
    return redirect(group.get_absolute_url())


@secretariat_required
@require_POST
def appoint(request, slug: str):
    group = _group(request, slug, "groups.manage_group")
    form = AppointForm(request.POST)
    if form.is_valid():
        try:
            services.coordinator_appoint(actor=request.user, group=group, user=form.user)
        except GroupError as exc:
            _error(request, exc)
        else:
            messages.success(request, _("%(user)s is now a coordinator.") % {"user": form.user})
    else:
        for error in form.errors.get("email", []):
            messages.error(request, error)
    return redirect("groups:members", slug=group.slug)


@secretariat_required
@require_GET
def export_groups(request):
    return csv_response(request, exports.groups_table())


@secretariat_required
@require_GET
def export_mandates(request):
    return csv_response(request, exports.mandates_table())


@secretariat_required
@require_GET
def export_memberships(request):
    return csv_response(request, exports.memberships_table())


@secretariat_required
@require_GET
def audit(request):
    form = AuditFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    rows = activities(
        group=filters.get("group"),
        verb=filters.get("verb") or "",
        since=filters.get("since"),
        until=filters.get("until"),
    )
    if request.GET.get("format") == "csv":
        return csv_response(request, activity_table(rows))
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    page.object_list = activity_people_load(page.object_list)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "groups/audit.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "csv_url": reverse("groups:audit"),
        },
    )
