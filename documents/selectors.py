"""Reads about documents, filtered to what the viewer may see and prefetched.

Lists run a fixed number of queries whatever the number of documents and
versions (``tests/documents/test_views.py`` asserts it).
"""

from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Lower

from accounts.models import User
from groups.models import ExpertGroup
from meetings.models import Meeting

from .models import Document, Folder, Keyword, RestrictedDownload, Version

SORTS = {
    "date": ("-updated_at", "-pk"),
    "-date": ("updated_at", "pk"),
    "name": (Lower("title"), "pk"),
    "-name": (Lower("title").desc(), "-pk"),
}


@dataclass(frozen=True)
class DocumentFilter:
    q: str = ""
    folder: Folder | None = None
    keyword: str = ""
    uploader: User | None = None
    sort: str = "date"


def _version_count():
    return Coalesce(
        Subquery(
            Version.objects.filter(document=OuterRef("pk"))
            .order_by()
            .values("document")
            .annotate(n=Count("pk"))
            .values("n")[:1]
        ),
        0,
    )


def _listing(group: ExpertGroup) -> QuerySet[Document]:
    return (
        Document.objects.filter(group=group)
        .select_related("folder", "current_version__uploaded_by")
        .prefetch_related(Prefetch("keywords", queryset=Keyword.objects.order_by("name")))
        .annotate(version_count=_version_count())
    )


def documents_of(group: ExpertGroup, flt: DocumentFilter | None = None) -> QuerySet[Document]:
    """Documents of the group outside the bin, filtered, searched and sorted."""
    flt = flt or DocumentFilter()
    qs = _listing(group).filter(binned_at__isnull=True)
    if flt.folder is not None:
        qs = qs.filter(folder=flt.folder)
    if flt.keyword:
        qs = qs.filter(
            Exists(
                Keyword.documents.through.objects.filter(
                    document=OuterRef("pk"), keyword__name=flt.keyword.lower()
                )
            )
        )
    if flt.uploader is not None:
        qs = qs.filter(
            Exists(Version.objects.filter(document=OuterRef("pk"), uploaded_by=flt.uploader))
        )
    q = " ".join(flt.q.split())
    if q:
        qs = qs.filter(
            Q(title__icontains=q)
            | Q(description__icontains=q)
            | Exists(
                Keyword.documents.through.objects.filter(
                    document=OuterRef("pk"), keyword__name__icontains=q
                )
            )
            | Exists(Version.objects.filter(document=OuterRef("pk"), original_name__icontains=q))
        )
    return qs.order_by(*SORTS.get(flt.sort, SORTS["date"]))


def binned_documents_for(group: ExpertGroup, user) -> list[Document]:
    """Documents in the bin that this viewer may see (their own, or all for coordinators)."""
    qs = _listing(group).filter(binned_at__isnull=False).select_related("binned_by")
    return [d for d in qs.order_by("-binned_at") if user.has_perm("documents.view_document", d)]


def document_for_viewer(group: ExpertGroup, pk: int) -> Document:
    """One document of this group (any group's id under another slug does not exist)."""
    document = Document.objects.select_related("folder", "created_by", "binned_by").get(
        group=group, pk=pk
    )
    document.group = group  # the viewer's group, with its lifecycle already prefetched
    return document


def meetings_of(document: Document) -> list[Meeting]:
    """Meetings of the document's group whose agenda or minutes it is, in one query.

    Each meeting is marked ``is_agenda`` / ``is_minutes`` (a document can be both).
    """
    meetings = list(
        Meeting.objects.filter(group=document.group)
        .filter(Q(agenda_document=document) | Q(minutes_document=document))
        .order_by("starts_at", "pk")
    )
    for meeting in meetings:
        meeting.group = document.group
        meeting.is_agenda = meeting.agenda_document_id == document.pk
        meeting.is_minutes = meeting.minutes_document_id == document.pk
    return meetings


def versions_of(document: Document) -> list[Version]:
    """Every version, newest first, each marked with the earlier version it duplicates."""
    versions = list(
        Version.objects.filter(document=document).select_related("uploaded_by").order_by("number")
    )
    first_seen: dict[str, Version] = {}
    for version in versions:
        version.document = document
        version.same_as = first_seen.get(version.sha256)
        first_seen.setdefault(version.sha256, version)
    return versions[::-1]


def version_for_viewer(document: Document, number: int | None) -> Version:
    if number is None:
        if document.current_version_id is None:
            raise Version.DoesNotExist
        version = Version.objects.get(pk=document.current_version_id)
    else:
        version = Version.objects.get(document=document, number=number)
    version.document = document
    return version


def folders_of(group: ExpertGroup) -> list[Folder]:
    return list(
        Folder.objects.filter(group=group)
        .annotate(document_count=Count("documents", filter=Q(documents__binned_at__isnull=True)))
        .order_by(Lower("name"))
    )


def keywords_of(group: ExpertGroup) -> list[str]:
    return list(
        Keyword.objects.filter(documents__group=group, documents__binned_at__isnull=True)
        .order_by("name")
        .values_list("name", flat=True)
        .distinct()
    )


def uploaders_of(group: ExpertGroup) -> QuerySet[User]:
    return (
        User.objects.filter(
            pk__in=Version.objects.filter(document__group=group).values("uploaded_by")
        )
        .only("pk", "full_name", "email", "deleted_at")  # what the choice's label shows
        .order_by("full_name")
    )


def confirmations_of(document: Document, limit: int = 200) -> list[RestrictedDownload]:
    return list(
        RestrictedDownload.objects.filter(document=document)
        .select_related("user", "version")
        .order_by("-confirmed_at")[:limit]
    )


def zip_selection(group: ExpertGroup, *, ids=(), folder: Folder | None = None) -> list[Document]:
    """Documents for a ZIP: the selected ids or a folder's documents, outside the bin."""
    qs = Document.objects.filter(group=group, binned_at__isnull=True).select_related(
        "folder", "current_version"
    )
    qs = qs.filter(folder=folder) if folder is not None else qs.filter(pk__in=list(ids))
    documents = list(qs.order_by(Lower("title"), "pk"))
    for document in documents:
        document.group = group
        if document.current_version is not None:
            document.current_version.document = document
    return documents
