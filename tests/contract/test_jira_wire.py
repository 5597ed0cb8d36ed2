"""The Jira connector's raw calls over urllib3 (connectors/jira/wire.py), over real sockets.

Against the Jira sandbox where it can show the rule (errors, uploads, downloads, a proxy in
between), and against a small scripted HTTP/1.1 server where the sandbox cannot: a 503 that
carries Retry-After, a POST whose answer never comes, a port that refuses the first
connection, a redirect, the headers as they arrive.
"""

from __future__ import annotations

import base64
import http.server
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import certifi
import pytest
import requests
import urllib3
from jira.exceptions import JIRAError

from bridge.errors import NotFoundError, RetriableError
from bridge.model import Attachment
from connectors.jira import JiraConnectorPlugin, JiraSettings
from connectors.jira.client import JiraConnector
from connectors.jira.errors import translate
from connectors.jira.rest import JiraRest
from connectors.jira.transport import RetryAfterGate
from tests.contract.connector_contract import a_draft, unique_marker
from tests.contract.test_jira_connector import STATUSES
from tests.fixtures.jira_sandbox import RunningJira

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy",
                   "no_proxy")


# --- a scripted server and a forward proxy --------------------------------------------------

class _Quiet(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Jira

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Arrival:
    at: float  # time.monotonic()
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Reply = tuple[int, dict[str, str], bytes] | None  # None: read the request, close without answering


@dataclass
class Scripted:
    """An HTTP/1.1 server (keep-alive) that records each request and answers with ``script``."""

    script: Callable[[Arrival, list[Arrival]], Reply]
    arrivals: list[Arrival] = field(default_factory=list)
    connections: int = 0  # TCP connections accepted
    delay: float = 0.0  # seconds before each answer (outside the lock: answers overlap)

    def __post_init__(self) -> None:
        owner = self

        class Handler(_Quiet):
            def setup(self) -> None:
                super().setup()
                with owner.lock:
                    owner.connections += 1

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                arrival = Arrival(time.monotonic(), self.command, self.path, dict(self.headers.items()),
                                  self.rfile.read(length))
                time.sleep(owner.delay)
                with owner.lock:
                    owner.arrivals.append(arrival)
                    reply = owner.script(arrival, list(owner.arrivals))
                if reply is None:
                    self.close_connection = True
                    return
                status, headers, body = reply
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _any

        self.lock = threading.Lock()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self.server.daemon_threads = True
        self.server.server_bind()  # bound but not listening: a connection is refused until start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> "Scripted":
        self.server.server_activate()
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def to(self, path: str) -> list[Arrival]:
        return [a for a in self.arrivals if a.path == path]


def ok(body: Any, status: int = 200) -> Reply:
    return status, {}, json.dumps(body).encode()


def in_rounds(workers: int, rounds: int, call: Callable[[int], Any]) -> list[Any]:
    """``call(worker)`` on ``workers`` threads at once, ``rounds`` times (each round starts
    together); the answers in the order they came."""
    start = threading.Barrier(workers)
    answers: list[Any] = []

    def worker(n: int) -> None:
        for _ in range(rounds):
            start.wait(10)
            answers.append(call(n))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return answers


class ForwardProxy:
    """A plain HTTP forward proxy (absolute-form request lines) that records what it forwards."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        upstream = urllib3.PoolManager()
        owner = self

        class Handler(_Quiet):
            def _any(self) -> None:
                owner.seen.append(f"{self.command} {self.path}")
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-connection", "host")}
                answer = upstream.request(self.command, self.path, body=body, headers=headers, retries=False,
                                          redirect=False, decode_content=False)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.data)))
                self.end_headers()
                self.wfile.write(answer.data)

            do_GET = do_POST = do_PUT = _any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    running = ForwardProxy()
    yield running
    running.stop()


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def settings_for(url: str, **values: Any) -> JiraSettings:
    base = {"url": url, "deployment": "server", "user": "bridge", "token": "t0k3n-value", "project": "OPS",
            "timeout": 5}
    return JiraSettings.model_validate({**base, **values})


def connector_for(sandbox: RunningJira, **values: Any) -> JiraConnector:
    settings = {"url": sandbox.url, "deployment": sandbox.mode, "user": sandbox.user, "token": sandbox.token,
                "project": sandbox.project, "timeout": 10, **values}
    return JiraConnectorPlugin.create(JiraConnectorPlugin.settings_model.model_validate(settings))


# --- retries ---------------------------------------------------------------------------------

def test_a_read_answered_503_with_retry_after_is_repeated_after_it_and_other_threads_wait_too(no_proxy_env):
    def script(arrival: Arrival, so_far: list[Arrival]) -> Reply:
        if arrival.path.endswith("/issue/1") and len(so_far) == 1:
            return 503, {"Retry-After": "1"}, b'{"errorMessages": ["busy"]}'
        return ok({"id": arrival.path.rsplit("/", 1)[1]})

    server = Scripted(script).start()
    rest = JiraRest(settings_for(server.url))
    seen: list[int | str] = []
    answered = threading.Event()
    rest.observe(lambda outcome, seconds: (seen.append(outcome), answered.set()))
    try:
        first: dict[str, Any] = {}
        reader = threading.Thread(target=lambda: first.update(rest.get("issue/1")))
        reader.start()
        assert answered.wait(5)  # the 503 is in
        assert rest.get("issue/2") == {"id": "2"}  # another thread's read, after the 503
        reader.join(5)
        assert first == {"id": "1"}
        refused = server.to("/rest/api/2/issue/1")[0].at
        later = server.arrivals[1:]  # the repeated read and the other thread's
        assert len(later) == 2 and all(a.at - refused >= 0.9 for a in later)
        assert sorted(seen, key=str) == [200, 200, 503]
    finally:
        rest.close()
        server.stop()


@pytest.mark.parametrize("stack", ["wire", "library session"])
def test_more_threads_than_requests_pool_keep_their_connections(no_proxy_env, stack, caplog):
    """16 threads at once, three rounds: each keeps its connection (requests' pool of 10 made
    six of them open and close a connection per request, each with urllib3's "Connection pool
    is full" warning)."""
    threads, rounds = 16, 3
    server = Scripted(lambda arrival, so_far: ok({"id": "1"}), delay=0.05).start()
    rest = JiraRest(settings_for(server.url))
    get = (lambda: rest.get("issue/1")) if stack == "wire" else (
        lambda: rest.client._session.get(server.url + "/rest/api/2/issue/1").json())
    try:
        with caplog.at_level(logging.WARNING, logger="urllib3"):
            answers = in_rounds(threads, rounds, lambda n: get())
        assert answers == [{"id": "1"}] * threads * rounds
        assert server.connections <= threads  # none opened again after the first round
        assert not [r for r in caplog.records if "pool is full" in r.getMessage()]
    finally:
        rest.close()
        server.stop()


def test_a_post_that_reached_jira_is_not_sent_again_when_its_answer_is_lost(no_proxy_env):
    server = Scripted(lambda arrival, so_far: None).start()  # reads the request, never answers
    rest = JiraRest(settings_for(server.url))
    seen: list[int | str] = []
    rest.observe(lambda outcome, seconds: seen.append(outcome))
    try:
        with pytest.raises(requests.ConnectionError) as lost:
            rest.send("POST", "issue", {"fields": {"summary": "einmal"}})
        assert isinstance(translate(lost.value, action="create"), RetriableError)
        assert [(a.method, json.loads(a.body)) for a in server.arrivals] == [("POST", {"fields": {"summary": "einmal"}})]
        assert seen == ["error"]
    finally:
        rest.close()
        server.stop()


def test_a_post_refused_before_it_left_is_sent_again(no_proxy_env):
    server = Scripted(lambda arrival, so_far: ok({"id": "10001", "key": "OPS-1"}, 201))  # not listening yet

    def backoff(seconds: float) -> None:  # Jira comes up while the connector backs off
        server.start()

    rest = JiraRest(settings_for(server.url), gate=RetryAfterGate(sleep=backoff))
    seen: list[int | str] = []
    rest.observe(lambda outcome, seconds: seen.append(outcome))
    try:
        assert rest.send("POST", "issue", {"fields": {"summary": "nochmal"}}) == {"id": "10001", "key": "OPS-1"}
        assert seen == ["error", 201] and len(server.arrivals) == 1
    finally:
        rest.close()
        server.stop()


def test_a_read_follows_redirects_and_a_write_does_not(no_proxy_env):
    def script(arrival: Arrival, so_far: list[Arrival]) -> Reply:
        if arrival.path.endswith("/moved"):
            return 302, {"Location": "/rest/api/2/here"}, b""
        return ok({"at": arrival.path})

    server = Scripted(script).start()
    rest = JiraRest(settings_for(server.url))
    try:
        assert rest.get("moved") == {"at": "/rest/api/2/here"}
        with pytest.raises(JIRAError) as refused:
            rest.send("PUT", "moved", {"x": 1})
        assert refused.value.status_code == 302
        assert [a.method for a in server.arrivals] == ["GET", "GET", "PUT"]
    finally:
        rest.close()
        server.stop()


# --- what a request carries --------------------------------------------------------------------

@pytest.mark.parametrize("user, expected", [
    ("bridge", "Basic " + base64.b64encode(b"bridge:t0k3n-value").decode()),
    (None, "Bearer t0k3n-value"),  # a Data Center personal access token, as the library's token_auth
])
def test_requests_carry_the_librarys_headers_and_credentials(no_proxy_env, user, expected):
    from bridge.user_agent import user_agent

    server = Scripted(lambda arrival, so_far: ok({"id": "1"})).start()
    rest = JiraRest(settings_for(server.url, user=user))
    try:
        rest.get("issue/1", {"fields": "summary,labels", "reconcileIssues": [1, 2], "absent": None})
        rest.send("PUT", "issue/1", {"fields": {"summary": "ä"}})
        read, write = server.arrivals
        assert read.path == "/rest/api/2/issue/1?fields=summary%2Clabels&reconcileIssues=1&reconcileIssues=2"
        for arrival in (read, write):
            assert arrival.headers["Authorization"] == expected
            assert arrival.headers["User-Agent"] == user_agent()
            assert arrival.headers["Accept"] == "application/json,*/*;q=0.9"
            assert arrival.headers["X-Atlassian-Token"] == "no-check"
        assert "Content-Type" not in read.headers and read.body == b""
        assert write.headers["Content-Type"] == "application/json"
        assert json.loads(write.body) == {"fields": {"summary": "ä"}}
    finally:
        rest.close()
        server.stop()


def test_the_session_cookie_jira_sets_goes_back_with_the_next_requests(no_proxy_env):
    # Data Center opens a session for a request without its cookie (JRASERVER-26397): the
    # cookie it sets comes back, as with requests' session; a cookie for another path does not.
    def script(arrival: Arrival, so_far: list[Arrival]) -> Reply:
        if len(so_far) == 1:
            return 200, {"Set-Cookie": "JSESSIONID=4A7F; Path=/; HttpOnly"}, b'{"id": "1"}'
        if len(so_far) == 2:
            return 201, {"Set-Cookie": "elsewhere=1; Path=/secure"}, b'{"id": "2"}'
        return ok({"id": "3"})

    server = Scripted(script).start()
    rest = JiraRest(settings_for(server.url))
    try:
        rest.get("issue/1")
        rest.send("POST", "issue/2/comment", {"body": "x"})
        rest.get("issue/3")
        first, second, third = server.arrivals
        assert "Cookie" not in first.headers
        assert second.headers["Cookie"] == "JSESSIONID=4A7F"
        assert third.headers["Cookie"] == "JSESSIONID=4A7F"
    finally:
        rest.close()
        server.stop()


def test_a_redirected_read_keeps_each_hops_cookies_for_its_own_host(no_proxy_env):
    # As requests' Session.resolve_redirects: the session cookie Jira sets on a 302 goes with
    # the next hop and later requests; a cookie another host sets (Cloud's media redirect)
    # stays with that host, which gets neither Jira's credentials nor its cookie.
    media = Scripted(lambda arrival, so_far: (200, {"Set-Cookie": "AWSALB=media; Path=/"}, b'{"id": "1"}')).start()
    media_url = media.url.replace("127.0.0.1", "localhost")

    def script(arrival: Arrival, so_far: list[Arrival]) -> Reply:
        if arrival.path.endswith("/issue/1"):
            return 302, {"Location": "/rest/api/2/issue/1b", "Set-Cookie": "JSESSIONID=J1; Path=/"}, b""
        if arrival.path.endswith("/issue/1b"):
            return 302, {"Location": f"{media_url}/file/1"}, b""
        return ok({"id": "2"})

    server = Scripted(script).start()
    rest = JiraRest(settings_for(server.url))
    try:
        assert rest.get("issue/1") == {"id": "1"}
        assert rest.get("issue/2") == {"id": "2"}
        first, hop, later = server.arrivals
        assert "Cookie" not in first.headers
        assert hop.headers["Cookie"] == "JSESSIONID=J1" and "Authorization" in hop.headers
        assert later.headers["Cookie"] == "JSESSIONID=J1"
        (fetched,) = media.arrivals
        assert "Authorization" not in fetched.headers and "Cookie" not in fetched.headers
    finally:
        rest.close()
        server.stop()
        media.stop()


def test_a_reply_in_a_declared_charset_other_than_utf8_is_read_in_it(no_proxy_env):
    body = '{"displayName": "Jürgen Müller"}'.encode("latin-1")
    server = Scripted(lambda arrival, so_far: (200, {"Content-Type": "application/json;charset=ISO-8859-1"},
                                               body)).start()
    rest = JiraRest(settings_for(server.url))
    try:
        assert rest.get("myself") == {"displayName": "Jürgen Müller"}
    finally:
        rest.close()
        server.stop()


# --- the environment ---------------------------------------------------------------------------

def test_the_servers_proxy_is_taken_from_the_environment_once(jira_server_sandbox, proxy, no_proxy_env):
    no_proxy_env.setenv("HTTP_PROXY", proxy.url)
    jira = connector_for(jira_server_sandbox)
    try:
        created = jira.create(a_draft(STATUSES), unique_marker())
        assert isinstance(jira.rest.wire.manager, urllib3.ProxyManager)
        no_proxy_env.setenv("HTTP_PROXY", "http://127.0.0.1:1")  # read once: no effect now
        assert jira.get(created.target_id).target_id == created.target_id
        assert f"POST {jira_server_sandbox.url}/rest/api/2/issue" in proxy.seen
        assert any(line.startswith(f"GET {jira_server_sandbox.url}/rest/api/2/issue/{created.target_id}?")
                   for line in proxy.seen)
    finally:
        jira.close()


def test_no_proxy_names_the_hosts_reached_directly(jira_server_sandbox, proxy, no_proxy_env):
    no_proxy_env.setenv("HTTP_PROXY", proxy.url)
    no_proxy_env.setenv("NO_PROXY", "127.0.0.1")
    jira = connector_for(jira_server_sandbox)
    try:
        jira.statuses()
        assert not isinstance(jira.rest.wire.manager, urllib3.ProxyManager) and proxy.seen == []
    finally:
        jira.close()


def test_a_download_goes_through_the_proxy_the_environment_names_for_its_host(jira_server_sandbox, proxy,
                                                                              no_proxy_env, tmp_path: Path):
    jira = connector_for(jira_server_sandbox)
    try:
        created = jira.create(a_draft(STATUSES), unique_marker())  # the server's requests: direct
        src = tmp_path / "plan.pdf"
        src.write_bytes(b"%PDF- plan")
        uploaded = jira.add_attachment(created.target_id, "plan.pdf", "application/pdf", src, marker="f-1")
        no_proxy_env.setenv("HTTP_PROXY", proxy.url)  # read for each download's URL
        dest = tmp_path / "back.pdf"
        jira.download_attachment(created.target_id, Attachment(uploaded.target_id, "plan.pdf"), dest)
        assert dest.read_bytes() == b"%PDF- plan"
        assert proxy.seen == [f"GET {jira_server_sandbox.url}/secure/attachment/{uploaded.target_id}/plan.pdf"]
    finally:
        jira.close()


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_the_ca_bundle_of_the_environment_checks_the_servers_certificate(monkeypatch, tmp_path, variable):
    bundle = tmp_path / "company-ca.pem"
    bundle.write_text(Path(certifi.where()).read_text())
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, str(bundle))
    rest = JiraRest(settings_for("https://acme.atlassian.net", deployment="cloud", user="bridge@example.com"))
    try:
        pool = rest.wire.manager.connection_from_url("https://acme.atlassian.net/rest/api/2/myself")
        assert (pool.ca_certs, pool.cert_reqs) == (str(bundle), "CERT_REQUIRED")
    finally:
        rest.close()


def test_without_a_ca_bundle_in_the_environment_certifis_is_used(monkeypatch):
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    rest = JiraRest(settings_for("https://acme.atlassian.net", deployment="cloud", user="bridge@example.com"))
    try:
        pool = rest.wire.manager.connection_from_url("https://acme.atlassian.net/")
        assert (pool.ca_certs, pool.cert_reqs) == (certifi.where(), "CERT_REQUIRED")
        assert os.path.isfile(pool.ca_certs)
    finally:
        rest.close()


# --- errors, uploads, downloads against the sandbox ----------------------------------------------

def test_an_error_reply_raises_what_the_library_raised_and_the_boundary_translates_it(jira_server_sandbox,
                                                                                     no_proxy_env):
    jira = connector_for(jira_server_sandbox)
    try:
        with pytest.raises(JIRAError) as missing:
            jira.rest.get("issue/999999")
        error = missing.value
        assert error.status_code == 404 and error.url.endswith("/rest/api/2/issue/999999")
        assert error.text == "Issue Does Not Exist" == error.response.json()["errorMessages"][0]
        assert error.response.request.method == "GET" and error.response.headers["Content-Type"]
        with pytest.raises(NotFoundError, match=r"HTTP 404 \(GET http://127\.0\.0\.1:\d+/rest/api/2/issue/999999\)"):
            jira.get("999999")
        assert jira.rest.issue_property("999999", "casavi") is None  # the 404 the reads expect
    finally:
        jira.close()


def test_a_streamed_upload_arrives_whole_and_downloads_the_same(jira_server_sandbox, no_proxy_env,
                                                                tmp_path: Path):
    jira = connector_for(jira_server_sandbox)
    data = os.urandom(200 * 1024)  # below the test sandbox's limit, many chunks
    src = tmp_path / "scan.bin"
    src.write_bytes(data)
    try:
        created = jira.create(a_draft(STATUSES), unique_marker())
        uploaded = jira.add_attachment(created.target_id, "Grundriss.bin", "application/octet-stream", src,
                                       marker="f-1")
        assert jira_server_sandbox.store.attachment_bytes(int(uploaded.target_id)) == data
        dest = tmp_path / "back.bin"
        jira.download_attachment(created.target_id, Attachment(uploaded.target_id, "Grundriss.bin"), dest)
        assert dest.read_bytes() == data
    finally:
        jira.close()
