from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from portal.pagination import Paginator

from . import personal_data, selectors, services
from .forms import AccountDeleteForm, DirectorySearchForm, ProfileForm
from .models import User


def profile(request):
    return render(request, "accounts/profile.html", {"profile_user": request.user, "own": True})


@require_http_methods(["GET", "POST"])
def profile_edit(request):
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        data = {name: form.cleaned_data[name] for name in form.fields}
        services.profile_update(actor=request.user, user=request.user, data=data)
        messages.success(request, _("Your profile has been saved."))
        return redirect("accounts:profile")
    return render(request, "accounts/profile_edit.html", {"form": form})


def directory(request):
    if not request.user.has_perm("accounts.view_directory"):
        raise PermissionDenied
    form = DirectorySearchForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    experts = selectors.directory_search(
        q=filters.get("q", ""),
        country=filters.get("country", ""),
        expertise=filters.get("expertise"),
    )
    page = Paginator(experts, settings.DIRECTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "accounts/directory.html",
        {"form": form, "page": page, "query": query.urlencode()},
    )


def expert_detail(request, pk: int):
    other = get_object_or_404(User.objects.prefetch_related("expertise"), pk=pk, is_active=True)
    if not request.user.has_perm("accounts.view_profile", other):
        raise Http404
    return render(
        request,
        "accounts/profile.html",
        {"profile_user": other, "own": other.pk == request.user.pk},
    )


# --- Your data: export and account deletion ------------------------------------


def _my_data_context(request, **extra) -> dict:
    from .selectors import personal_exports_of

    return {
        "exports": personal_exports_of(request.user),
        "export_days": settings.PERSONAL_EXPORT_DAYS,
        "delete_form": extra.pop("delete_form", None) or AccountDeleteForm(),
        **extra,
    }


@require_http_methods(["GET"])
def my_data(request):
    return render(request, "accounts/my_data.html", _my_data_context(request))


@require_http_methods(["POST"])
def my_data_export(request):
    try:
        personal_data.personal_export_request(actor=request.user)
    except personal_data.PersonalDataError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("Your data is being prepared. You will get a notification when it is ready."),
        )
    return redirect("accounts:my_data")


@require_http_methods(["GET"])
def my_data_download(request, pk: int):
    from documents.responses import stored_file_response

    from .models import PersonalExport

    # Someone else's export does not exist for this user: 404, not 403.
    export = get_object_or_404(
        PersonalExport, pk=pk, user=request.user, state=PersonalExport.State.READY
    )
    return stored_file_response(
        request,
        key=export.storage_key,
        filename=f"my-data-{export.finished_at:%Y-%m-%d}.zip",
        content_type="application/zip",
        size=export.size,
    )


@require_http_methods(["POST"])
def account_delete(request):
    form = AccountDeleteForm(request.POST)
    if form.is_valid():
        try:
            personal_data.account_delete(
                actor=request.user, user=request.user, password=form.cleaned_data["password"]
            )
        except personal_data.PersonalDataError as exc:
            form.add_error(None, str(exc))
        else:
            logout(request)
            messages.success(request, _("Your account has been deleted. Goodbye."))
            return redirect("home")
    return render(
        request, "accounts/my_data.html", _my_data_context(request, delete_form=form), status=400
    )
