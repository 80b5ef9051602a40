"""Real peers on 127.0.0.1 for integration tests: HTTP(S) with a generated CA, moto S3, the GCS emulator.

Every server is bounded: it runs in a daemon thread or a child process that the fixture stops, and
every readiness probe has a deadline.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, deadline: float = 20.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"peer exited early with {proc.returncode}")
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {deadline} s")


@dataclass(frozen=True)
class TlsFiles:
    ca_file: Path
    cert_file: Path
    key_file: Path


def make_tls(directory: Path) -> TlsFiles:
    """A CA and a leaf for 127.0.0.1/localhost (CA:FALSE, SAN IP:127.0.0.1)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cococtl test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(directory / "ca.pem", directory / "leaf.pem", directory / "leaf.key")
    files.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    files.key_file.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return files


@dataclass
class Behaviour:
    """Per-path misbehaviour, to exercise retries, resume and timeouts."""

    fail_first: int = 0  # answer 503 this many times first
    truncate_first: int = 0  # send only half the body (with the full Content-Length) this many times
    stall_seconds: float = 0.0  # sleep before answering
    served: int = 0


@dataclass
class FileServer:
    """A Range-capable HTTP(S) file server with scriptable failures; records the requests it saw."""

    root: Path
    tls: TlsFiles | None = None
    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    url: str = ""
    _server: ThreadingHTTPServer | None = None

    def publish(self, name: str, data: bytes, behaviour: Behaviour | None = None) -> str:
        (self.root / name).write_bytes(data)
        if behaviour is not None:
            self.behaviours[name] = behaviour
        return f"{self.url}/{name}"

    def start(self) -> FileServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in separate writes

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                name = self.path.lstrip("/").split("?", 1)[0]
                server.requests.append(("GET", name, self.headers.get("Range")))
                behaviour = server.behaviours.setdefault(name, Behaviour())
                behaviour.served += 1
                if behaviour.stall_seconds:
                    time.sleep(behaviour.stall_seconds)
                if behaviour.fail_first > 0:
                    behaviour.fail_first -= 1
                    self._send(503, b"try again")
                    return
                path = server.root / name
                if "/" in name or not path.is_file():
                    self._send(404, b"not found")
                    return
                data = path.read_bytes()
                start = 0
                status = 200
                header = self.headers.get("Range")
                if header and header.startswith("bytes=") and header.endswith("-"):
                    start = int(header[6:-1])
                    status = 206
                body = data[start:]
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                if behaviour.truncate_first > 0:
                    behaviour.truncate_first -= 1
                    body = body[: len(body) // 2]
                    self.close_connection = True
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        scheme = "http"
        if self.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.tls.cert_file, self.tls.key_file)
            httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
            scheme = "https"
        self._server = httpd
        self.url = f"{scheme}://127.0.0.1:{httpd.server_address[1]}"
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


@dataclass
class Process:
    proc: subprocess.Popen[bytes]
    url: str

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def start_moto() -> Process:
    port = free_port()
    proc = subprocess.Popen(
        [_bin("moto_server"), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_for_port(port, proc=proc)
    return Process(proc, f"http://127.0.0.1:{port}")


def start_gcs_emulator() -> Process:
    port = free_port()
    proc = subprocess.Popen(
        [_bin("gcp-storage-emulator"), "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    wait_for_port(port, proc=proc)
    return Process(proc, f"http://127.0.0.1:{port}")


def start_registry(directory: Path) -> Process:
    """docker-registry on loopback with a throwaway filesystem store (never the Debian default config)."""
    port = free_port()
    config = directory / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: error\n"
        f"storage:\n  filesystem:\n    rootdirectory: {directory / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    proc = subprocess.Popen(
        ["docker-registry", "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_for_port(port, proc=proc)
    return Process(proc, f"127.0.0.1:{port}")


@contextlib.contextmanager
def grpc_key_provider(keys_file: Path) -> Iterator[int]:
    """cococtl's gRPC key provider on a free loopback port, unwrapping with an offline_fs keys file."""
    from cococtl.crypto.keys import key_from_offline_fs, load_offline_fs_json
    from cococtl.oci.grpc_service import serve

    document = load_offline_fs_json(keys_file)
    stop, ports = threading.Event(), []
    thread = threading.Thread(
        target=serve,
        args=("127.0.0.1:0", lambda kid: key_from_offline_fs(document, kid)),
        kwargs={"ready": ports.append, "stop": stop},
        daemon=True,
    )
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not ports and time.monotonic() < deadline:
            stop.wait(0.02)
        if not ports:
            raise RuntimeError("the gRPC key provider did not start")
        yield ports[0]
    finally:
        stop.set()
        thread.join(timeout=10)
