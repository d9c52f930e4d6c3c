"""Another group's document under this group's address: 404, whoever asks.

What each persona gets on each documents route is in the persona table of
tests/test_authorization_matrix.py.
"""

from http import HTTPStatus

import pytest
from django.urls import reverse

from documents import services
from tests.documents.factories import upload_document

pytestmark = pytest.mark.django_db

#: The documents routes that take a document id, and their method.
ROUTES_WITH_A_DOCUMENT = {
    "documents:zip": "get",
    "documents:detail": "get",
    "documents:download": "get",
    "documents:version_download": "get",
    "documents:version_add": "post",
    "documents:bin": "post",
    "documents:restore": "post",
    "documents:purge": "post",
}


@pytest.mark.parametrize(("name", "method"), ROUTES_WITH_A_DOCUMENT.items())
def test_another_groups_document_id_under_this_group_is_404(client, world, name, method):
    foreign = upload_document(world["other"], world["other_member"])
    services.document_bin(actor=world["other_member"], document=foreign)
    services.document_restore(actor=world["other_member"], document=foreign)
    if name in ("documents:restore", "documents:purge"):
        services.document_bin(actor=world["other_member"], document=foreign)
    # The secretariat may see both groups: the mismatch alone must answer 404.
    client.force_login(world["secretariat"] if name == "documents:purge" else world["coordinator"])
    if name == "documents:zip":
        response = client.get(reverse(name, kwargs={"slug": "target"}), {"id": [foreign.pk]})
        assert response.status_code == HTTPStatus.FOUND  # nothing of this group selected
        assert response["Location"] == reverse("documents:list", kwargs={"slug": "target"})
        return
    kwargs = {"slug": "target", "pk": foreign.pk}
    if name == "documents:version_download":
        kwargs["number"] = 1
    response = getattr(client, method)(reverse(name, kwargs=kwargs))
    assert response.status_code == HTTPStatus.NOT_FOUND
    foreign.refresh_from_db()
