"""The portal never fetches where it must not (docs/SECURITY.md, "Reaching what the portal must not"): with default settings every forbidden address is
refused with a clear reason, and no connection is even tried — checked by a loopback server that records
connections and by a spy on every socket connect of the process."""

import socket

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from assets.models import Asset
from tests.file_server import Answer, connection_spy, file_server
from tests.imports_support import eager_fetching, open_session, run_import  # noqa: F401
from tests.media_factory import make_jpeg
from uploads import fetching, imports
from uploads.models import UploadSession

PUBLIC_TEST_ADDRESS = "93.184.215.14"  # a public address; the test intercepts the connection, nothing leaves

FORBIDDEN = {
    "loopback": ("http://127.0.0.1:{port}/a.jpg", "Loopback"),
    "private": ("http://10.0.0.1/a.jpg", "Private-Use"),
    "metadata": ("http://169.254.169.254/latest/meta-data/", "metadata"),
    "ipv6 loopback": ("http://[::1]:{port}/a.jpg", "Loopback"),
    "ipv4-mapped loopback": ("http://[::ffff:127.0.0.1]:{port}/a.jpg", "127.0.0.1"),
    "decimal loopback": ("http://2130706433:{port}/a.jpg", "encoded"),
    "cgnat": ("http://100.64.0.1/a.jpg", "Shared Address Space"),
    "unspecified": ("http://0.0.0.0:{port}/a.jpg", "0.0.0.0"),
    "file": ("file:///etc/passwd", "only http and https URLs"),
    "ftp": ("ftp://files.example.com/a.jpg", "only http and https URLs"),
}


@pytest.fixture(autouse=True)
def default_address_policy(settings):
    # The default itself is under test: nothing here turns private addresses off, they start off.
    assert settings.URL_IMPORT_ALLOW_PRIVATE_ADDRESSES is False
    settings.URL_IMPORT_CONNECT_TIMEOUT = 2
    settings.URL_IMPORT_READ_TIMEOUT = 2


@pytest.fixture
def watched():
    """A loopback server that records every connection it gets, serving a real image."""
    with file_server({"/a.jpg": make_jpeg()}) as server:
        yield server


@pytest.mark.parametrize("case", FORBIDDEN, ids=list(FORBIDDEN))
def test_fetching_refuses_each_forbidden_address_without_connecting(case, watched, monkeypatch):
    url, words = FORBIDDEN[case]
    url = url.format(port=watched.url.rsplit(":", 1)[1])
    with connection_spy(monkeypatch) as attempts, pytest.raises(fetching.FetchError) as refused:
        with fetching.open_url(url):
            pass
    assert words in refused.value.message
    assert not refused.value.transient
    assert attempts == [] and watched.connections == []


@pytest.mark.parametrize("case", FORBIDDEN, ids=list(FORBIDDEN))
def test_the_preview_lists_each_forbidden_address_as_a_bad_row(case, project, member, watched, monkeypatch):
    url, words = FORBIDDEN[case]
    url = url.format(port=watched.url.rsplit(":", 1)[1])
    session = open_session(project, member, UploadSession.Source.CSV)
    with connection_spy(monkeypatch) as attempts:
        url_import = imports.url_import_preview(
            session=session, user=member, uploaded=SimpleUploadedFile("list.csv", f"{url},Forbidden\n".encode())
        )
    assert url_import.rows == []
    [problem] = url_import.problems
    assert problem["line"] == 1 and words in problem["reason"]
    assert attempts == [] and watched.connections == []


def test_allowing_private_addresses_is_what_lets_the_loopback_server_be_fetched(settings, watched):
    settings.URL_IMPORT_ALLOW_PRIVATE_ADDRESSES = True
    with fetching.open_url(watched.url + "/a.jpg") as body:
        assert body.read(1 << 20) == watched.routes["/a.jpg"].body
    assert len(watched.connections) == 1


@pytest.fixture
def public_name(monkeypatch):
    """files.example.com resolves to a public address whose connections land on a loopback server instead.

    The resolver and the socket are the process's own (socket.getaddrinfo, socket.socket), so the checks
    see a public answer and a connection to it, exactly as they would on the internet.
    """
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_getpeername = socket.socket.getpeername
    targets: dict[int, int] = {}
    pretended: dict[int, tuple] = {}

    def getaddrinfo(host, port, *args, **kwargs):
        if host == "files.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (PUBLIC_TEST_ADDRESS, port or 80))]
        return real_getaddrinfo(host, port, *args, **kwargs)

    def connect(sock, address):
        if address[0] == PUBLIC_TEST_ADDRESS:
            pretended[id(sock)] = address
            return real_connect(sock, ("127.0.0.1", targets[address[1]]))
        return real_connect(sock, address)

    def getpeername(sock):
        return pretended.get(id(sock)) or real_getpeername(sock)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "getpeername", getpeername)
    return targets


def test_a_public_name_that_redirects_to_loopback_is_refused_at_the_redirect(public_name, watched):
    with file_server() as front:
        public_name[8080] = int(front.url.rsplit(":", 1)[1])
        front.add("/photo.jpg", Answer(status=302, headers={"Location": watched.url + "/a.jpg"}))
        front.add("/fine.jpg", make_jpeg(30, 20))
        with fetching.open_url("http://files.example.com:8080/fine.jpg") as body:
            assert body.read(1 << 20)  # the public name itself is fetched
        with pytest.raises(fetching.FetchError) as refused:
            with fetching.open_url("http://files.example.com:8080/photo.jpg"):
                pass
    assert "Loopback" in refused.value.message
    assert front.requests == ["/fine.jpg", "/photo.jpg"]
    assert watched.connections == []


def test_a_name_that_resolves_to_loopback_becomes_an_upload_error_and_is_never_contacted(
    project, member, watched, monkeypatch, eager_fetching, django_capture_on_commit_callbacks
):
    real_getaddrinfo = socket.getaddrinfo
    monkeypatch.setattr(
        socket, "getaddrinfo",
        lambda host, *args, **kwargs: real_getaddrinfo("127.0.0.1" if host == "intranet.example.com" else host, *args, **kwargs),
    )
    port = watched.url.rsplit(":", 1)[1]
    session = open_session(project, member, UploadSession.Source.CSV)
    with django_capture_on_commit_callbacks(execute=True):
        run_import(session, member, "list.csv", f"http://intranet.example.com:{port}/a.jpg,Intranet".encode())
    asset = Asset.objects.get(upload_session=session)
    assert asset.status == Asset.Status.UPLOAD_ERROR
    assert "does not fetch from this address" in asset.error_reason and "127.0.0.1" in asset.error_reason
    assert watched.connections == []


def test_too_many_redirects_are_refused(settings):
    settings.URL_IMPORT_ALLOW_PRIVATE_ADDRESSES = True
    settings.URL_IMPORT_MAX_REDIRECTS = 2
    with file_server() as server:
        for n in range(5):
            server.add(f"/hop{n}", Answer(status=302, headers={"Location": f"{server.url}/hop{n + 1}"}))
        with pytest.raises(fetching.FetchError) as refused:
            with fetching.open_url(server.url + "/hop0"):
                pass
    assert "redirected more than 2 times" in refused.value.message
    assert server.requests == ["/hop0", "/hop1", "/hop2"]
