"""A real TLS + authentication front for the test OpenSearch node: Debian's nginx.

The development node (scripts/opensearch-node) runs without the security plugin, so
to test what a secured cluster looks like to searcher — an ``https://`` endpoint with a
private CA that answers 401 without the right credentials — the tests put nginx in
front of it, on loopback, the way many self-hosted clusters are fronted:

* TLS with a server certificate for ``127.0.0.1``/``localhost`` signed by a throw-away
  CA made here (python ``cryptography``), plus a second, unrelated CA to trust wrongly;
  the same server also answers on ``127.0.0.2``, a name the certificate does not hold;
* HTTP basic auth (``auth_basic``, a salted SHA-1 ``{SSHA}`` password file) *or* an
  ``Authorization: ApiKey <key>`` header (``auth_request`` to a location comparing it),
  either one being enough (``satisfy any``); nothing reaches the node otherwise;
* the ``Authorization`` header is not forwarded to the node.

Start-up is bounded: ``nginx -t`` first (a config error names itself), then at most
*timeout* seconds for the port to accept connections, else the error log is raised.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import os
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


@dataclass
class TlsProxy:
    """A running nginx: its https URL, the CA that signed it, and what it accepts."""

    url: str
    ca_file: Path
    wrong_ca_file: Path
    user: str
    password: str
    api_key: str
    folder: Path
    process: subprocess.Popen

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _key():
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def make_ca(name: str):
    """A self-signed CA certificate and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    key = _key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                         crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def make_server_cert(ca_cert, ca_key):
    """A server certificate for 127.0.0.1 and localhost, signed by the CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = _key()
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return cert, key


def htpasswd_line(user: str, password: str) -> str:
    """One nginx password-file line: ``user:{SSHA}base64(sha1(password + salt) + salt)``."""
    salt = secrets.token_bytes(8)
    digest = hashlib.sha1(password.encode("utf-8") + salt).digest()
    return f"{user}:{{SSHA}}{base64.b64encode(digest + salt).decode('ascii')}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _config(folder: Path, port: int, upstream: str, api_key: str) -> str:
    user = "user root root;" if os.geteuid() == 0 else ""  # workers read the password file
    temp = folder / "tmp"
    return f"""
daemon off;
master_process on;
worker_processes 1;
{user}
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 128; }}
http {{
    access_log {folder}/access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    client_max_body_size 0;
    upstream opensearch {{ server {upstream}; keepalive 8; }}
    map $http_authorization $searcher_api_key_ok {{ default 0; "ApiKey {api_key}" 1; }}
    server {{
        listen 127.0.0.1:{port} ssl;
        listen 127.0.0.2:{port} ssl;  # same certificate, a name it does not hold
        ssl_certificate {folder}/server.pem;
        ssl_certificate_key {folder}/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        location = /_searcher_api_key {{
            internal;
            if ($searcher_api_key_ok) {{ return 204; }}
            return 401;
        }}
        location / {{
            satisfy any;
            auth_basic "searcher test cluster";
            auth_basic_user_file {folder}/htpasswd;
            auth_request /_searcher_api_key;
            proxy_pass http://opensearch;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Authorization "";
            proxy_read_timeout 300s;
        }}
    }}
}}
"""


def start_proxy(upstream_url: str, folder: Path, *, timeout: float = 20.0,
                password: str = "") -> TlsProxy:
    """nginx serving https://127.0.0.1:PORT in front of *upstream_url* (http://host:port)."""
    from cryptography.hazmat.primitives import serialization

    if NGINX is None:
        raise RuntimeError("nginx is not installed (apt-get install -y nginx)")
    folder.mkdir(parents=True, exist_ok=True)
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / "tmp" / sub).mkdir(parents=True, exist_ok=True)
    ca, ca_key = make_ca("searcher test CA")
    wrong_ca, _ = make_ca("searcher test CA")  # same name, different key: must not be trusted
    server, server_key = make_server_cert(ca, ca_key)
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "wrong-ca.pem").write_bytes(wrong_ca.public_bytes(pem))
    (folder / "server.pem").write_bytes(server.public_bytes(pem))
    (folder / "server.key").write_bytes(_pem_key(server_key))
    os.chmod(folder / "server.key", 0o600)
    user = "searcher"
    password = password or "pw-" + secrets.token_urlsafe(12)
    api_key = secrets.token_urlsafe(24)
    (folder / "htpasswd").write_text(htpasswd_line(user, password) + "\n", encoding="utf-8")
    upstream = urlsplit(upstream_url).netloc
    errors = ""
    for _attempt in range(3):  # the port is free when picked; another process may take it
        port = _free_port()
        conf = folder / "nginx.conf"
        conf.write_text(_config(folder, port, upstream, api_key), encoding="utf-8")
        base = [NGINX, "-p", str(folder), "-c", str(conf), "-e", str(folder / "error.log")]
        check = subprocess.run(base + ["-t"], capture_output=True, text=True, timeout=30)
        if check.returncode != 0:
            raise RuntimeError(f"nginx rejected {conf}: {check.stderr.strip()}")
        process = subprocess.Popen(base, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return TlsProxy(f"https://127.0.0.1:{port}", folder / "ca.pem",
                                    folder / "wrong-ca.pem", user, password, api_key, folder,
                                    process)
            except OSError:
                time.sleep(0.1)
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        errors = (process.stderr.read().decode("utf-8", "replace") if process.stderr else "")
        log = folder / "error.log"
        if log.exists():
            errors += log.read_text(encoding="utf-8", errors="replace")[-2000:]
        if "Address already in use" not in errors:
            break
    raise RuntimeError(f"nginx did not start within {timeout} s: {errors.strip()[-2000:]}")
