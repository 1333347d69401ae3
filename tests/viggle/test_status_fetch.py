"""The poller's lean status fetch (viggle/status_fetch.py) answers exactly as the httpx client's
``render_status``: the same status, and for every failure the same ViggleError (status, code,
retryable, Retry-After), against the simulator over HTTP, and over TLS."""

from __future__ import annotations

import datetime
import io
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from viggle_web.viggle.errors import ViggleError
from viggle_web.viggle.status_fetch import StatusFetcher
from viggle_web.viggle.types import Upload

pytestmark = pytest.mark.django_db(transaction=True)


def _job(viggle_sim, sim_media) -> str:
    with viggle_sim.client() as client:
        return client.render_create(
            ref_image=Upload("c.png", io.BytesIO(sim_media.png.read_bytes()), "image/png"),
            driving_video=Upload("m.mp4", io.BytesIO(sim_media.mp4.read_bytes()), "video/mp4"),
        ).job_id


def _error(call: Any) -> ViggleError:
    with pytest.raises(ViggleError) as exc:
        call()
    return exc.value


def _same(a: ViggleError, b: ViggleError) -> None:
    assert (a.status, a.code, a.retryable, a.retry_after) == (
        b.status,
        b.code,
        b.retryable,
        b.retry_after,
    )


@pytest.fixture
def fetcher_for(viggle_sim) -> Iterator[Any]:
    made: list[StatusFetcher] = []

    def make(client: Any, connections: int = 4) -> StatusFetcher:
        made.append(StatusFetcher(client, connections=connections))
        return made[-1]

    yield make
    for fetcher in made:
        fetcher.close()


def test_the_same_status_as_the_client(viggle_sim, sim_media, fetcher_for) -> None:
    done = _job(viggle_sim, sim_media)
    viggle_sim.set_speed(0.0001)  # this one's progress stands still between the two reads
    job = _job(viggle_sim, sim_media)
    viggle_sim.wait_for(done)
    with viggle_sim.client() as client:
        fetcher = fetcher_for(client)
        for upstream in (job, done):
            lean, plain = fetcher.fetch(upstream, timeout=30), client.render_status(upstream)
            assert lean == plain and lean.raw == plain.raw
        assert lean.is_complete and lean.cdn_url
    gets = viggle_sim.calls("GET", f"/api/render/{job}")
    assert gets and not any(c["has_auth_header"] for c in gets)  # the no-auth call, as documented


def test_many_at_once_over_kept_connections(viggle_sim, sim_media, fetcher_for) -> None:
    job = _job(viggle_sim, sim_media)
    with viggle_sim.client() as client:
        fetcher = fetcher_for(client, connections=3)
        results: list[Any] = []
        finished = threading.Event()

        def done(batch: list[Any]) -> None:
            results.extend(batch)
            if len(results) == 30:
                finished.set()

        fetcher.fetch_many([(i, job) for i in range(30)], done)
        assert finished.wait(60)
    assert sorted(key for key, *_ in results) == list(range(30))
    assert all(status is not None and status.job_id == job for _, status, _, _ in results)
    assert fetcher._open <= 3


def test_an_unknown_job_is_the_same_error(viggle_sim, fetcher_for) -> None:
    with viggle_sim.client() as client:
        fetcher = fetcher_for(client)
        lean = _error(lambda: fetcher.fetch("job_nope", timeout=30))
        _same(lean, _error(lambda: client.render_status("job_nope")))
    assert lean.status == 404 and not lean.retryable


@pytest.mark.parametrize("kind", ["500", "502", "503", "429", "malformed", "drop"])
def test_each_fault_is_the_same_error(viggle_sim, sim_media, fetcher_for, kind) -> None:
    job = _job(viggle_sim, sim_media)
    viggle_sim.fault(kind, count=None, path_prefix="/api/render/", retry_after=7)
    with viggle_sim.client(max_retries=0) as client:
        lean = _error(lambda: fetcher_for(client).fetch(job, timeout=30))
        _same(lean, _error(lambda: client.render_status(job)))
    assert lean.retryable


@pytest.mark.parametrize("kind", ["503", "drop", "malformed"])
def test_transient_faults_are_retried(viggle_sim, sim_media, fetcher_for, kind) -> None:
    job = _job(viggle_sim, sim_media)
    viggle_sim.fault(kind, count=2, path_prefix="/api/render/")
    with viggle_sim.client(max_retries=3, backoff_base=0.01) as client:
        assert fetcher_for(client).fetch(job, timeout=30).job_id == job
    assert [c["fault"] for c in viggle_sim.calls("GET", "/api/render/")] == [kind, kind, ""]


def test_a_long_retry_after_goes_back_at_once(viggle_sim, sim_media, fetcher_for) -> None:
    job = _job(viggle_sim, sim_media)
    viggle_sim.fault("429", count=1, path_prefix="/api/render/", retry_after=3600)
    with viggle_sim.client(max_retries=3) as client:
        error = _error(lambda: fetcher_for(client).fetch(job, timeout=30))
    assert error.status == 429 and error.retry_after and error.retry_after > 60
    assert len(viggle_sim.calls("GET", "/api/render/")) == 1


def test_a_slow_answer_times_out_and_is_retried(viggle_sim, sim_media, fetcher_for) -> None:
    job = _job(viggle_sim, sim_media)
    viggle_sim.fault("latency", count=1, latency_ms=1500, path_prefix="/api/render/")
    with viggle_sim.client(timeout=0.5, max_retries=0) as client:
        lean = _error(lambda: fetcher_for(client).fetch(job, timeout=30))
    assert lean.code == "timeout" and lean.retryable
    viggle_sim.fault("latency", count=1, latency_ms=1500, path_prefix="/api/render/")
    with viggle_sim.client(timeout=0.5, max_retries=2, backoff_base=0.01) as client:
        assert fetcher_for(client).fetch(job, timeout=30).job_id == job
    # The simulator logs a status GET once it has answered: the two we gave up on end 1.5 s
    # after they began. Wait for them here, or they would be answered (404, the job gone by
    # then) into the next test's call log.
    deadline = time.monotonic() + 10

    def answered() -> list[Any]:
        return [c["status"] for c in viggle_sim.calls("GET", f"/api/render/{job}")]

    while len(answered()) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert answered() == [200, 200, 200]


def test_nothing_listening_is_the_same_error(viggle_sim, fetcher_for) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with viggle_sim.client(base_url=f"http://127.0.0.1:{port}", max_retries=0) as client:
        lean = _error(lambda: fetcher_for(client).fetch("job_x", timeout=30))
        _same(lean, _error(lambda: client.render_status("job_x")))
    assert lean.code == "connection" and lean.retryable


# --- TLS: the real API is https ----------------------------------------------------------------


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _tls_front(cert: Path, key: Path, backend_port: int) -> tuple[int, socket.socket]:
    """A TLS terminator on localhost in front of the simulator (as a load balancer would be)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))

    def pump(src: Any, dst: Any) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.close()
                except OSError:
                    pass

    def serve() -> None:
        while True:
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            try:
                tls = context.wrap_socket(raw, server_side=True)
            except (OSError, ssl.SSLError):
                raw.close()
                continue
            backend = socket.create_connection(("127.0.0.1", backend_port))
            threading.Thread(target=pump, args=(tls, backend), daemon=True).start()
            threading.Thread(target=pump, args=(backend, tls), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1], listener


def test_https_with_a_verified_certificate(
    viggle_sim, sim_media, fetcher_for, tmp_path, monkeypatch
) -> None:
    job = _job(viggle_sim, sim_media)
    cert, key = _self_signed(tmp_path)
    backend_port = int(viggle_sim.base_url.rsplit(":", 1)[1])
    port, listener = _tls_front(cert, key, backend_port)
    try:
        base = f"https://localhost:{port}"
        with viggle_sim.client(base_url=base, max_retries=0) as client:
            # Not trusted: refused as httpx refuses it (a connect error).
            untrusted = _error(lambda: fetcher_for(client).fetch(job, timeout=30))
            assert untrusted.code == "connection"
            monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # httpx's context honours it
            assert fetcher_for(client).fetch(job, timeout=30).job_id == job
    finally:
        listener.close()


def test_with_a_proxy_configured_it_goes_through_httpx(viggle_sim, fetcher_for, monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # a proxy that is not there
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with viggle_sim.client(max_retries=0) as client:
        fetcher = fetcher_for(client)
        assert fetcher.via_threads
        lean = _error(lambda: fetcher.fetch("job_x", timeout=30))
        _same(lean, _error(lambda: client.render_status("job_x")))
    assert lean.code == "connection"  # the proxy, as httpx would have used it
    assert not viggle_sim.calls("GET", "/api/render/job_x")
