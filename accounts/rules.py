"""Who may do what with accounts, and who counts as secretariat: one place.

Group roles (member, coordinator) live in ``groups/rules.py``; this module
holds the site-wide roles they build on.
"""

from functools import wraps

import rules
from allauth.mfa.models import Authenticator
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.utils.translation import gettext as _


@rules.predicate
def is_secretariat(user) -> bool:
    """Staff of the confederation: members of the Secretariat Django group."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    cached = getattr(user, "_is_secretariat", None)
    if cached is None:
        from portal.selectors import navigation_facts  # one query with the navigation's count

        cached, _unread = navigation_facts(user)
    return cached


def secretariat_remember(user, *, in_group: bool) -> bool:
    """Keep on ``user`` whether they count as secretariat, given whether they are in
    the Secretariat group (which the caller's own query read): superusers count too.
    ``is_secretariat`` then asks no query for this object."""
    user._is_secretariat = user.is_superuser or bool(in_group)
    return user._is_secretariat


@rules.predicate
def has_mfa(user) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


@rules.predicate
def is_self(user, other) -> bool:
    return getattr(user, "is_authenticated", False) and other is not None and user.pk == other.pk


@rules.predicate
def is_listed_in_directory(user, other) -> bool:
    return other is not None and other.is_active and other.directory_visible


rules.add_perm("accounts.use_secretariat", is_secretariat & has_mfa)
rules.add_perm("accounts.view_profile", is_self | is_listed_in_directory | is_secretariat)
rules.add_perm("accounts.change_profile", is_self)
rules.add_perm("accounts.view_directory", rules.is_authenticated)


def admin_mfa_required(login_view):
    """Wrap the admin login so staff without a TOTP authenticator are sent to enrol one.

    The admin site's ``has_permission`` refuses them (see ``admin_has_permission``);
    without this, Django would show them its login form again with no reason given.
    """

    @wraps(login_view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if user.is_authenticated and user.is_active and user.is_staff and not has_mfa(user):
            messages.warning(
                request,
                _("The administration needs two-factor authentication. Set it up to continue."),
            )
            return redirect("mfa_activate_totp")
        return login_view(request, *args, **kwargs)

    return wrapper


def admin_has_permission(has_permission):
    """Wrap ``AdminSite.has_permission``: active staff with an enrolled TOTP authenticator.

    This holds for superusers too: the admin is the most powerful tool in the portal.
    """

    @wraps(has_permission)
    def wrapper(request):
        return has_permission(request) and has_mfa(request.user)

    return wrapper


def secretariat_required(view_func):
    """Let only secretariat staff with MFA enrolled through.

    Everyone else gets 403; secretariat staff without a TOTP authenticator are
    sent to enrol one first, as the security baseline requires.
    """

    @wraps(view_func)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not is_secretariat(user):
            raise PermissionDenied
        if not has_mfa(user):
            messages.warning(
                request,
                _("Secretariat functions need two-factor authentication. Set it up to continue."),
            )
            return redirect("mfa_activate_totp")
        return view_func(request, *args, **kwargs)

    return wrapper
