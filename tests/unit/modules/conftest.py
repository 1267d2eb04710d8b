import pytest

from tests.unit.module_utils.bird_daemon import bird_pair


@pytest.fixture(scope="module")
def bird_socket(tmp_path_factory):
    """IPv4 socket of a real BIRD 1.6 (bird6.ctl beside it) peered with a second BIRD."""
    with bird_pair(tmp_path_factory.mktemp("bird")) as sock:
        yield sock
