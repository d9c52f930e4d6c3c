"""Pages of a group's archive package (secretariat): progress, download, rebuild, check."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.rules import secretariat_required
from documents.responses import stored_file_response

from . import archive
from .models import ArchivePackage
from .views import _context, _group


def _page_context(request, group) -> dict:
    return _context(
        request,
        group,
        "archive",
        current=archive.current_package(group),
        running=archive.running_package(group),
        packages=archive.packages_of(group),
    )


@secretariat_required
@require_GET
def archive_package(request, slug: str):
    group = _group(request, slug, "groups.manage_group")
    return render(request, "groups/archive_package.html", _page_context(request, group))


@secretariat_required
@require_GET
def archive_package_status(request, slug: str):
    """The progress panel alone; htmx polls it while a package is being built."""
    group = _group(request, slug, "groups.manage_group")
    return render(request, "groups/_archive_progress.html", _page_context(request, group))


@secretariat_required
@require_POST
def archive_package_rebuild(request, slug: str):
    group = _group(request, slug, "groups.manage_group")
    try:
        archive.archive_package_request(
            actor=request.user,
            group=group,
            include_all_versions=request.POST.get("include_all_versions") == "on",
        )
    except archive.ArchiveError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("The package is being built. This page shows its progress."))
    return redirect("groups:archive_package", slug=group.slug)


def _package(request, slug: str, pk: int) -> ArchivePackage:
    group = _group(request, slug, "groups.manage_group")
    return get_object_or_404(ArchivePackage.objects.select_related("group"), pk=pk, group=group)


@secretariat_required
@require_POST
def archive_package_check(request, slug: str, pk: int):
    package = _package(request, slug, pk)
    try:
        archive.archive_package_verify_request(actor=request.user, package=package)
    except archive.ArchiveError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("The package is being checked against its manifest."))
    return redirect("groups:archive_package", slug=package.group.slug)


@secretariat_required
@require_GET
def archive_package_download(request, slug: str, pk: int):
    package = _package(request, slug, pk)
    if package.state not in (ArchivePackage.State.READY,) or not package.storage_key:
        raise Http404
    stamp = package.finished_at.strftime("%Y-%m-%d")
    return stored_file_response(
        request,
        key=package.storage_key,
        filename=f"{package.group.slug}-archive-{stamp}.zip",
        content_type="application/zip",
        size=package.size,
    )
