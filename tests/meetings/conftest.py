import pytest

from tests.groups.factories import add_member, make_group

from .factories import frozen


@pytest.fixture
def clock():
    """Freeze the clock at NOW (1 March 2027, 09:00 Brussels) for the whole test."""
    with frozen() as traveller:
        yield traveller


@pytest.fixture
def group(db, clock):
    return make_group(slug="probation-data")


@pytest.fixture
def member(group):
    return add_member(group)


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Run a block and then its on-commit side effects (e-mails, tasks), as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)
