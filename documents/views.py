"""Thin views: load what the viewer may see, call one service, show the result.

A group's documents are private: a non-member gets 404 for every page, and a
document id of another group under this group's address does not exist.
Uploads answer JSON to the upload script (one file per request, with a
progress bar each) and a redirect with messages to a plain form post.
"""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from groups import selectors as group_selectors
from portal.decorators import read_only
from portal.forms import posted_ids
from portal.pagination import Paginator

from . import selectors, services
from .forms import ConfirmNoticeForm, DocumentFilterForm, FolderForm, UploadForm, VersionForm
from .models import Document, Folder, Version
from .responses import version_response, zip_response
from .services import DocumentError


def _group(request, slug: str, perm: str = "groups.view_group"):
    """The group if the viewer holds ``perm`` on it; 404 otherwise (no leak of existence)."""
    try:
        group = group_selectors.group_for_viewer(slug=slug)
    except group_selectors.ExpertGroup.DoesNotExist:
        raise Http404 from None
    if not request.user.has_perm(perm, group):
        raise Http404
    return group


def _document(request, group, pk: int, perm: str = "documents.view_document") -> Document:
    try:
        document = selectors.document_for_viewer(group, pk)
    except Document.DoesNotExist:
        raise Http404 from None
    if not request.user.has_perm(perm, document):
        raise Http404
    return document


def _context(request, group, **extra):
    user = request.user
    return {
        "group": group,
        "life": group.lifecycle,
        "tab": "documents",
        "can": {
            "manage_group": user.has_perm("groups.manage_group", group),
            "contribute": user.has_perm("groups.contribute", group),
        },
        "max_bytes": settings.DOCUMENT_MAX_BYTES,
        **extra,
    }


def _error(request, exc: DocumentError, prefix: str = "") -> None:
    for message in exc.messages:
        messages.error(request, f"{prefix}{message}" if prefix else message)


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _declared_size(request) -> int | None:
    try:
        return int(request.POST["size"])
    except (KeyError, ValueError):
        return None


def _duplicate_note(result) -> str:
    if not result.duplicates:
        return ""
    first = result.duplicates[0]
    return _("Identical content is already in this group: “%(title)s”, version %(n)d.") % {
        "title": first.document.title,
        "n": first.number,
    }


def _oversized_messages(request) -> list[str]:
    return [
        _("%(name)s: the file is larger than the limit of %(limit)s.")
        % {"name": name, "limit": filesizeformat(settings.DOCUMENT_MAX_BYTES)}
        for name in getattr(request, "oversized_uploads", [])
    ]


# --- Browsing ------------------------------------------------------------


@read_only
def document_list(request, slug: str):
    group = _group(request, slug)
    folders_qs = Folder.objects.filter(group=group).order_by("name")
    keywords = selectors.keywords_of(group)
    form = DocumentFilterForm(
        request.GET or None,
        folders=folders_qs,
        keywords=keywords,
        uploaders=selectors.uploaders_of(group),
    )
    flt = selectors.DocumentFilter()
    if form.is_valid():
        data = form.cleaned_data
        flt = selectors.DocumentFilter(
            q=data["q"],
            folder=data["folder"],
            keyword=data["keyword"],
            uploader=data["uploader"],
            sort=data["sort"],
        )
    page = Paginator(selectors.documents_of(group, flt), settings.DOCUMENT_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "documents/list.html",
        _context(
            request,
            group,
            page=page,
            form=form,
            folders=selectors.folders_of(group),
            current_folder=flt.folder,
            query=query.urlencode(),
            folder_form=FolderForm(),
        ),
    )


@read_only
def document_detail(request, slug: str, pk: int):
    group = _group(request, slug)
    document = _document(request, group, pk)
    user = request.user
    return render(
        request,
        "documents/detail.html",
        _context(
            request,
            group,
            document=document,
            versions=selectors.versions_of(document),
            meetings=selectors.meetings_of(document),
            keywords=list(document.keywords.order_by("name")),
            version_form=VersionForm(),
            may={
                "add_version": user.has_perm("documents.add_version", document),
                "bin": user.has_perm("documents.bin_document", document),
                "restore": user.has_perm("documents.restore_document", document),
                "purge": user.has_perm("documents.purge_document", document),
            },
            confirmations=selectors.confirmations_of(document)
            if document.is_restricted and user.has_perm("documents.view_confirmations", document)
            else None,
        ),
    )


@require_GET
def bin_list(request, slug: str):
    group = _group(request, slug)
    return render(
        request,
        "documents/bin.html",
        _context(request, group, documents=selectors.binned_documents_for(group, request.user)),
    )


# --- Uploads -------------------------------------------------------------


# The services own their transactions: a stored file is deleted again when the
# rows cannot be written, which an outer request-wide transaction would defeat.
@transaction.non_atomic_requests
@require_http_methods(["GET", "POST"])
def upload(request, slug: str):
    group = _group(request, slug)
    if not request.user.has_perm("groups.contribute", group):
        if request.method == "POST":
            raise PermissionDenied
        messages.error(request, _("This group is read-only: nothing can be added."))
        return redirect("documents:list", slug=group.slug)
    form = UploadForm(request.POST or None, group=group)
    file_errors: list[str] = []
    if request.method == "POST":
        files = request.FILES.getlist("files")
        file_errors = _oversized_messages(request)
        if not files and not file_errors:
            file_errors = [_("Choose at least one file to upload.")]
        if form.is_valid() and files:
            return _upload_files(request, group, form, files, file_errors)
        if _wants_json(request):
            errors = file_errors + [e for errs in form.errors.values() for e in errs]
            return JsonResponse({"ok": False, "errors": errors}, status=400)
    return render(
        request,
        "documents/upload.html",
        _context(request, group, form=form, file_errors=file_errors),
        status=400 if request.method == "POST" else 200,
    )


def _upload_files(request, group, form, files, file_errors):
    data = form.cleaned_data
    uploaded, errors = [], list(file_errors)
    for upload_file in files:
        try:
            result = services.document_upload(
                actor=request.user,
                group=group,
                upload=upload_file,
                title=data["title"] if len(files) == 1 else "",
                description=data["description"],
                keywords=data["keywords"],
                folder=data["folder"],
                new_folder=data["new_folder"],
                sensitivity=data["sensitivity"],
                purpose=data["purpose"],
                declared_size=_declared_size(request) if len(files) == 1 else None,
            )
        except DocumentError as exc:
            name = upload_file.name
            errors.extend(f"{name}: {message}" for message in exc.messages)
        else:
            uploaded.append(result)
    if _wants_json(request):
        if not uploaded:
            return JsonResponse({"ok": False, "errors": errors}, status=400)
        result = uploaded[0]
        return JsonResponse(
            {
                "ok": True,
                "title": result.document.title,
                "url": result.document.get_absolute_url(),
                "notes": [n for n in [_duplicate_note(result)] if n],
                "errors": errors,
            },
            status=201,
        )
    for message in errors:
        messages.error(request, message)
    for result in uploaded:
        messages.success(request, _("Uploaded “%(title)s”.") % {"title": result.document.title})
        if note := _duplicate_note(result):
            messages.info(request, note)
    if len(uploaded) == 1:
        return redirect(uploaded[0].document.get_absolute_url())
    if not uploaded:
        return redirect("documents:upload", slug=group.slug)
    return redirect("documents:list", slug=group.slug)


@transaction.non_atomic_requests
@require_POST
def version_add(request, slug: str, pk: int):
    group = _group(request, slug)
    document = _document(request, group, pk)
    if not request.user.has_perm("documents.add_version", document):
        raise PermissionDenied
    form = VersionForm(request.POST)
    files = request.FILES.getlist("files")
    errors = _oversized_messages(request)
    if not files and not errors:
        errors = [_("Choose the file of the new version.")]
    elif len(files) > 1:
        errors = [_("Upload one file per version.")]
    result = None
    if not errors and form.is_valid():
        try:
            result = services.version_add(
                actor=request.user,
                document=document,
                upload=files[0],
                comment=form.cleaned_data["comment"],
                declared_size=_declared_size(request),
            )
        except DocumentError as exc:
            errors = list(exc.messages)
    elif not errors:
        errors = [e for errs in form.errors.values() for e in errs]
    if _wants_json(request):
        if result is None:
            return JsonResponse({"ok": False, "errors": errors}, status=400)
        return JsonResponse(
            {
                "ok": True,
                "title": document.title,
                "url": document.get_absolute_url(),
                "notes": [n for n in [_duplicate_note(result)] if n],
                "errors": [],
            },
            status=201,
        )
    if result is None:
        for message in errors:
            messages.error(request, message)
    else:
        messages.success(request, _("Version %(n)d added.") % {"n": result.version.number})
        if note := _duplicate_note(result):
            messages.info(request, note)
    return redirect(document.get_absolute_url())


@require_POST
def folder_create(request, slug: str):
    group = _group(request, slug)
    if not request.user.has_perm("groups.contribute", group):
        raise PermissionDenied
    form = FolderForm(request.POST)
    if form.is_valid():
        try:
            folder = services.folder_create(
                actor=request.user, group=group, name=form.cleaned_data["name"]
            )
        except DocumentError as exc:
            _error(request, exc)
        else:
            messages.success(request, _("Folder “%(name)s” is ready.") % {"name": folder.name})
            return redirect(f"{reverse('documents:list', args=[group.slug])}?folder={folder.pk}")
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect("documents:list", slug=group.slug)


# --- Bin -----------------------------------------------------------------


def _bin_action(request, slug: str, pk: int, perm: str):
    group = _group(request, slug)
    document = _document(request, group, pk)
    if not request.user.has_perm(perm, document):
        raise PermissionDenied
    return group, document


@require_POST
def document_bin(request, slug: str, pk: int):
    group, document = _bin_action(request, slug, pk, "documents.bin_document")
    services.document_bin(actor=request.user, document=document)
    messages.success(
        request,
        _("“%(title)s” is in the bin. It can be restored from there.") % {"title": document.title},
    )
    return redirect("documents:list", slug=group.slug)


@require_POST
def document_restore(request, slug: str, pk: int):
    group, document = _bin_action(request, slug, pk, "documents.restore_document")
    services.document_restore(actor=request.user, document=document)
    messages.success(request, _("“%(title)s” is restored.") % {"title": document.title})
    return redirect(document.get_absolute_url())


@require_POST
def document_purge(request, slug: str, pk: int):
    group, document = _bin_action(request, slug, pk, "documents.purge_document")
    title = document.title
    services.document_purge(actor=request.user, document=document)
    messages.success(request, _("“%(title)s” is deleted for good.") % {"title": title})
    return redirect("documents:bin_list", slug=group.slug)


# --- Downloads -----------------------------------------------------------


def _confirmed(request, group, documents, *, action: str, hidden: dict):
    """None when no notice is needed or it was confirmed now; else the notice page."""
    restricted = [d for d in documents if d.is_restricted]
    if not restricted:
        return None
    form = ConfirmNoticeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        return None
    return render(
        request,
        "documents/confirm_download.html",
        _context(request, group, restricted=restricted, form=form, action=action, hidden=hidden),
        status=400 if request.method == "POST" else 200,
    )


@require_http_methods(["GET", "POST"])
def download(request, slug: str, pk: int, number: int | None = None):
    """The current version (or version ``number``); restricted documents ask to confirm first."""
    group = _group(request, slug)
    document = _document(request, group, pk)
    try:
        version = selectors.version_for_viewer(document, number)
    except Version.DoesNotExist:
        raise Http404 from None
    notice = _confirmed(request, group, [document], action=request.path, hidden={})
    if notice is not None:
        return notice
    if document.is_restricted:
        services.restricted_download_confirm(actor=request.user, versions=[version])
    return version_response(request, version)


@require_http_methods(["GET", "POST"])
def download_zip(request, slug: str):
    """A folder (``?folder=``) or a selection (``?id=…&id=…``) as one streamed ZIP."""
    group = _group(request, slug)
    params = request.POST if request.method == "POST" else request.GET
    folder = None
    if params.get("folder"):
        try:
            folder = Folder.objects.get(group=group, pk=int(params["folder"]))
        except (Folder.DoesNotExist, ValueError):
            raise Http404 from None
    ids = posted_ids(params.getlist("id"))
    documents = selectors.zip_selection(group, ids=ids, folder=folder)
    documents = [
        d
        for d in documents
        if d.current_version is not None and request.user.has_perm("documents.view_document", d)
    ]
    back = reverse("documents:list", args=[group.slug])
    if not documents:
        messages.error(request, _("Select at least one document to download."))
        return redirect(back)
    if len(documents) > settings.DOCUMENT_ZIP_MAX_FILES:
        messages.error(
            request,
            _("A ZIP holds at most %(n)d documents; select fewer.")
            % {"n": settings.DOCUMENT_ZIP_MAX_FILES},
        )
        return redirect(back)
    hidden = {"folder": folder.pk} if folder else {"id": [d.pk for d in documents]}
    notice = _confirmed(request, group, documents, action=request.path, hidden=hidden)
    if notice is not None:
        return notice
    services.restricted_download_confirm(
        actor=request.user, versions=[d.current_version for d in documents]
    )
    stamp = timezone.localdate().isoformat()
    name = f"{group.slug}-{folder.name if folder else 'documents'}-{stamp}.zip"
    return zip_response(request, documents, filename=name)
