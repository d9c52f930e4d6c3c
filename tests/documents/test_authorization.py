"""Every documents URL against every persona: each cell is the expected answer.

Non-members get 404 for everything under a group's address, so private
content does not reveal that it exists. Reading stays open to members of
expired and archived groups; changing needs ``groups.contribute``.
"""

from http import HTTPStatus

import pytest
from django.conf import settings
from django.urls import reverse

from documents import services
from tests.documents import samples
from tests.documents.factories import upload_document
from tests.urlwalk import all_routes

pytestmark = pytest.mark.django_db

LOGIN = "login"
OK = HTTPStatus.OK
REDIRECT = HTTPStatus.FOUND
NF = HTTPStatus.NOT_FOUND
FORBID = HTTPStatus.FORBIDDEN

PERSONAS = ["anonymous", "outsider", "other_member", "member", "coordinator", "secretariat"]

# route -> (method, which document, expected per persona in PERSONAS order)
TABLE = {
    "documents:list": ("get", None, [LOGIN, NF, NF, OK, OK, OK]),
    # The secretariat sees every group but does not add to it: sent back with a message.
    "documents:upload": ("get", None, [LOGIN, NF, NF, OK, OK, REDIRECT]),
    "documents:folder_create": ("post", None, [LOGIN, NF, NF, REDIRECT, REDIRECT, FORBID]),
    "documents:bin_list": ("get", None, [LOGIN, NF, NF, OK, OK, OK]),
    "documents:zip": ("get", "doc", [LOGIN, NF, NF, OK, OK, OK]),
    "documents:detail": ("get", "doc", [LOGIN, NF, NF, OK, OK, OK]),
    "documents:download": ("get", "doc", [LOGIN, NF, NF, OK, OK, OK]),
    "documents:version_download": ("get", "doc", [LOGIN, NF, NF, OK, OK, OK]),
    "documents:version_add": ("post", "doc", [LOGIN, NF, NF, REDIRECT, REDIRECT, FORBID]),
    # The member uploaded "doc": the uploader or a coordinator bins and restores.
    "documents:bin": ("post", "doc", [LOGIN, NF, NF, REDIRECT, REDIRECT, FORBID]),
    "documents:restore": ("post", "binned", [LOGIN, NF, NF, REDIRECT, REDIRECT, FORBID]),
    "documents:purge": ("post", "binned", [LOGIN, NF, NF, FORBID, FORBID, REDIRECT]),
}


@pytest.fixture
def docs(world):
    doc = upload_document(world["group"], world["member"])
    binned = upload_document(world["group"], world["member"], name="old.txt", content=samples.TEXT)
    services.document_bin(actor=world["member"], document=binned)
    return {"doc": doc, "binned": binned}


def url_for(name, docs):
    route = next(r for r in all_routes() if r.name == name)
    _method, which, _expected = TABLE[name]
    kwargs = {"slug": "target"}
    if "pk" in route.kwargs_names:
        kwargs["pk"] = docs[which].pk
    if "number" in route.kwargs_names:
        kwargs["number"] = 1
    return reverse(name, kwargs=kwargs)


def test_every_documents_route_is_in_the_table():
    names = {r.name for r in all_routes() if r.name.startswith("documents:")}
    assert names == set(TABLE), f"untested: {names - set(TABLE)}; stale: {set(TABLE) - names}"


CASES = [(name, i) for name in TABLE for i in range(len(PERSONAS))]


@pytest.mark.parametrize(("name", "index"), CASES, ids=[f"{n}-{PERSONAS[i]}" for n, i in CASES])
def test_documents_route_answers_each_persona_as_expected(client, world, docs, name, index):
    persona = PERSONAS[index]
    method, which, expected = TABLE[name]
    user = world.get(persona) if persona != "anonymous" else None
    if user is not None:
        client.force_login(user)
    target = url_for(name, docs)
    data = {}
    if name == "documents:zip":
        data = {"id": [docs["doc"].pk]}
    elif name == "documents:folder_create":
        data = {"name": "New folder"}
    elif name == "documents:version_add":
        data = {"files": samples.upload("v2.pdf", samples.PDF + b"%v2")}
    response = getattr(client, method)(target, data)
    want = expected[index]
    if want == LOGIN:
        assert response.status_code == REDIRECT
        assert response["Location"].startswith(reverse(settings.LOGIN_URL))
    else:
        assert response.status_code == want, f"{persona} {method.upper()} {target}"


@pytest.mark.parametrize("name", [n for n, (_m, which, _e) in TABLE.items() if which])
def test_another_groups_document_id_under_this_group_is_404(client, world, name):
    foreign = upload_document(world["other"], world["other_member"])
    services.document_bin(actor=world["other_member"], document=foreign)
    services.document_restore(actor=world["other_member"], document=foreign)
    if name in ("documents:restore", "documents:purge"):
        services.document_bin(actor=world["other_member"], document=foreign)
    # The secretariat may see both groups: the mismatch alone must answer 404.
    client.force_login(world["secretariat"] if name == "documents:purge" else world["coordinator"])
    method, _which, _expected = TABLE[name]
    if name == "documents:zip":
        response = client.get(reverse(name, kwargs={"slug": "target"}), {"id": [foreign.pk]})
        assert response.status_code == REDIRECT  # nothing of this group selected
        assert response["Location"] == reverse("documents:list", kwargs={"slug": "target"})
        return
    kwargs = {"slug": "target", "pk": foreign.pk}
    if name == "documents:version_download":
        kwargs["number"] = 1
    response = getattr(client, method)(reverse(name, kwargs=kwargs))
    assert response.status_code == NF
    foreign.refresh_from_db()
