from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from . import selectors, services
from .forms import DirectorySearchForm, ProfileForm
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
