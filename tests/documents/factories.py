from documents import services
from tests.documents import samples


def upload_document(group, user, name="report.pdf", content=samples.PDF, **kwargs):
    """A document uploaded through the real service."""
    return services.document_upload(
        actor=user, group=group, upload=samples.upload(name, content), **kwargs
    ).document


def add_version(document, user, name="report-v2.pdf", content=samples.PDF + b"%v2\n", **kwargs):
    return services.version_add(
        actor=user, document=document, upload=samples.upload(name, content), **kwargs
    ).version
