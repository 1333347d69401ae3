"""A 400 MB video through the browser's upload path: throughput and the web process's memory.

    .venv/bin/python bench/upload.py [--mb 400]

What is sent: a real MP4 (PyAV, 2 s, 160x120) followed by one MP4 ``free`` box padding it to
``--mb`` MB: a valid file that players and probes read as the short video, so the app's whole
path runs (size limit, temp file, SHA-256, PyAV probe, poster, storage). It goes as the
gallery's script sends it: one multipart field ``file``, ``X-CSRFToken`` and
``X-Requested-With: XMLHttpRequest`` headers, a logged-in session cookie, to ``gallery:upload``
on uvicorn (production settings). Throughput is compared with a plain loopback copy of the same
file (a raw TCP server that writes what it receives to a new file on the same disk, kept like
the app's): ``--runs`` pairs, interleaved with the order alternating, the ratio their median.
(Until 2026-12-03 it was one app upload, first, against the best of two copies run after it
into files deleted at once: on this VM a new file's pages cost several times more to write than
pages freed a moment before, which favoured the copy; docs/performance.md.) Memory: the
uvicorn process's VmRSS before (after a small warm-up upload) and its VmHWM (peak) after.

Needs a Postgres (DATABASE_URL's server or a throwaway one it starts); its own scratch database.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _pg  # noqa: E402
from bench._rows import row  # noqa: E402

CHUNK = 1024 * 1024


def padded_mp4(path: Path, total_bytes: int) -> Path:
    from tests.media_factory import make_mp4

    make_mp4(path, seconds=2.0, size=(160, 120))
    pad = total_bytes - path.stat().st_size
    with path.open("ab") as fh:
        if pad >= 16:
            # A 64-bit "free" box: size 1 + type, then the real size.
            fh.write(struct.pack(">I4sQ", 1, b"free", pad))
            block = b"\0" * CHUNK
            left = pad - 16
            while left > 0:
                fh.write(block[: min(CHUNK, left)])
                left -= min(CHUNK, left)
    return path


def mark(path: Path, run: int) -> None:
    """Make this run's bytes differ from the others' (the last 8 bytes of the ``free`` box's
    padding): the app keeps every upload and would take a repeat as the same file."""
    with path.open("r+b") as fh:
        fh.seek(-8, os.SEEK_END)
        fh.write(struct.pack(">Q", run + 1))


def settle(media_root: str, copies: Path, size: int) -> None:
    """Between two timed writes: remove the big files both sides wrote (the app's stored upload,
    the copy's file) and write the dirty pages out, so each run starts from the same state.
    On this VM a run writing into pages not used before took up to 5x longer than one reusing
    freed pages (0.19 s against 0.95-1.14 s for the same copy; docs/performance.md)."""
    for folder in (Path(media_root), copies):
        for path in folder.rglob("*"):
            if path.is_file() and path.stat().st_size >= size // 2:
                path.unlink()
    os.sync()


def raw_copy(path: Path, dest_dir: str) -> float:
    """Seconds to push the file over a loopback TCP socket into a new file on the same disk
    (left in ``dest_dir``; the caller removes it after the timing, as the app's)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    done = threading.Event()

    def receive() -> None:
        conn, _ = server.accept()
        with conn, tempfile.NamedTemporaryFile(dir=dest_dir, delete=False) as out:
            while True:
                data = conn.recv(CHUNK)
                if not data:
                    break
                out.write(data)
            out.flush()
        done.set()

    thread = threading.Thread(target=receive)
    thread.start()
    began = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as sock, path.open("rb") as fh:
        sock.sendfile(fh)
        sock.shutdown(socket.SHUT_WR)
        done.wait(120)
    elapsed = time.monotonic() - began
    thread.join()
    server.close()
    return elapsed


def browser_upload(base: str, cookie: str, path: Path) -> tuple[float, int, dict]:
    """POST ``path`` as the gallery's script does (one multipart field ``file``, XHR headers,
    CSRF header and cookie). The bytes are those a browser sends; the file part goes out with
    ``sendfile`` as the loopback copy's does, so the client's own cost (httpx alone needs about
    as long as the whole loopback copy for 400 MB) does not count against the server."""
    import http.client
    import json
    import uuid
    from urllib.parse import urlsplit

    import httpx

    with httpx.Client(base_url=base, cookies={"sessionid": cookie}, timeout=30) as client:
        page = client.get("/gallery/")
        csrf = client.cookies.get("csrftoken")
        assert page.status_code == 200 and csrf, (page.status_code, page.text[-2000:])
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{path.name}"\r\nContent-Type: video/mp4\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = len(head) + path.stat().st_size + len(tail)
    host = urlsplit(base)
    request = (
        f"POST /gallery/upload/ HTTP/1.1\r\nHost: {host.netloc}\r\n"
        f"Cookie: sessionid={cookie}; csrftoken={csrf}\r\nX-CSRFToken: {csrf}\r\n"
        f"X-Requested-With: XMLHttpRequest\r\nReferer: {base}/gallery/\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {length}\r\nConnection: close\r\n\r\n"
    ).encode()
    began = time.monotonic()
    with socket.create_connection((host.hostname, host.port), timeout=300) as sock:
        sock.sendall(request + head)
        with path.open("rb") as fh:
            sock.sendfile(fh)
        sock.sendall(tail)
        response = http.client.HTTPResponse(sock)
        response.begin()
        text = response.read()
    elapsed = time.monotonic() - began
    try:
        body = json.loads(text)
    except ValueError:
        body = {"ok": False, "message": text[:300].decode(errors="replace")}
    return elapsed, response.status, body


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=400)
    parser.add_argument(
        "--runs",
        type=int,
        default=3,
        help="pairs of (loopback copy, app upload), interleaved; the ratio is their median",
    )
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="record the web process with py-spy during the big upload (collapsed stacks)",
    )
    args = parser.parse_args(argv)

    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="viggle-bench-", dir="/var/tmp") as tmp:
        tmpdir = Path(tmp)
        media_root, log_dir = str(tmpdir / "media"), str(tmpdir / "logs")
        os.makedirs(media_root)
        os.makedirs(log_dir)
        size = args.mb * 1024 * 1024
        big = padded_mp4(tmpdir / "big.mp4", size)
        small = padded_mp4(tmpdir / "small.mp4", 300_000)
        with _pg.scratch_database() as db_url:
            _pg.setup_django(db_url, media_root=media_root)
            from viggle_web.accounts.models import User

            user = User.objects.create_user(username="bench-uploader", password="x")
            env = _pg.child_env(
                db_url, media_root, VIGGLE_BASE_URL="http://127.0.0.1:9", TMPDIR=str(tmpdir)
            )
            web, base = _pg.start_uvicorn(env, log_dir)
            cookie = _pg.session_cookie(user)
            try:
                _, status, warm = browser_upload(base, cookie, small)  # warm-up: imports, PyAV
                assert status in (200, 201), (status, warm, web.tail())
                before = _pg.proc_status(web.pid)
                spy = _pg.py_spy(web.pid, args.profile) if args.profile else None
                pairs: list[tuple[float, float]] = []
                copies = tmpdir / "copies"
                copies.mkdir()
                settle(media_root, copies, size)
                for run in range(max(1, args.runs)):
                    # Interleaved, the order alternating, so neither side gets the warmer
                    # machine: each pair writes one new file of the same size.
                    mark(big, run)
                    if run % 2:
                        elapsed, status, body = browser_upload(base, cookie, big)
                        settle(media_root, copies, size)
                        copy = raw_copy(big, str(copies))
                    else:
                        copy = raw_copy(big, str(copies))
                        settle(media_root, copies, size)
                        elapsed, status, body = browser_upload(base, cookie, big)
                    settle(media_root, copies, size)
                    if not body.get("ok"):
                        break
                    pairs.append((copy, elapsed))
                after = _pg.proc_status(web.pid)
                if spy is not None:
                    print(_pg.py_spy_report(spy))
            except AssertionError:
                print(web.tail(), file=sys.stderr)
                raise
            finally:
                web.stop()
                from django.db import connections

                connections.close_all()
        mb = size / 1e6
        print(
            f"sent: a real 2 s 160x120 H.264 MP4 padded with an MP4 'free' box to "
            f"{size:,} bytes ({args.mb} MiB)"
        )
        print(
            f"app upload (gallery:upload, XHR-style multipart, uvicorn): HTTP {status}, "
            f"{'accepted' if body.get('ok') else 'refused: ' + str(body.get('message'))}"
            " (incl. SHA-256, probe, poster, storage)"
        )
        for run, (copy, elapsed) in enumerate(pairs, 1):
            print(
                f"  run {run}: plain loopback TCP copy into a new file {copy:.2f}s "
                f"= {mb / copy:.0f} MB/s; app upload {elapsed:.2f}s = {mb / elapsed:.0f} MB/s; "
                f"ratio {copy / elapsed:.2f}"
            )
        ratio = statistics.median(copy / elapsed for copy, elapsed in pairs) if pairs else 0.0
        print(
            f"throughput ratio app/plain copy, median of {len(pairs)}: {ratio:.2f} (target >= 0.5)"
        )
        growth = (after["VmHWM"] - before["VmRSS"]) / 1024
        print(
            f"uvicorn process memory: VmRSS before {before['VmRSS'] / 1024:.0f} MB, "
            f"VmHWM after {after['VmHWM'] / 1024:.0f} MB, peak growth {growth:.1f} MB "
            f"(target < 64 MB)"
        )
    print(f"(total {time.monotonic() - began:.0f}s; {os.cpu_count()} cores)")
    if not body.get("ok"):
        raise SystemExit("the upload was refused: no figures")
    return [
        row(f"{args.mb} MB upload speed / loopback copy", ratio, "x", 0.5, ">="),
        row("web process memory growth during it", growth, "MB", 64, "<"),
    ]


if __name__ == "__main__":
    main()
