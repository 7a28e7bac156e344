"""TLS, mutual TLS and bearer-token auth (certificates made with the openssl CLI per test session)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from conftest_service import running_server
from fake_runtime import FakeRuntime
from service.api.screencodec.v1 import screencodec_pb2 as pb
from service.api.screencodec.v1 import screencodec_pb2_grpc as pb_grpc
from service.config import TlsConfig

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA."""
    d = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
             "-keyout", d / "ca.key", "-out", d / "ca.pem")
    extensions = {"server": "subjectAltName=IP:127.0.0.1,DNS:localhost", "client": "extendedKeyUsage=clientAuth"}
    for name, ext in extensions.items():
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                 "-keyout", d / f"{name}.key", "-out", d / f"{name}.csr")
        (d / f"{name}.ext").write_text(ext + "\n")
        _openssl("x509", "-req", "-in", d / f"{name}.csr", "-CA", d / "ca.pem", "-CAkey", d / "ca.key",
                 "-CAcreateserial", "-days", "2", "-extfile", d / f"{name}.ext", "-out", d / f"{name}.pem")
    return d


def _list_models(channel: grpc.Channel, **kwargs) -> pb.ListModelsResponse:
    return pb_grpc.ScreenCodecStub(channel).ListModels(pb.ListModelsRequest(), timeout=5, **kwargs)


def test_tls(pki):
    tls = TlsConfig(pki / "server.pem", pki / "server.key")
    with running_server([FakeRuntime()], tls=tls) as srv:
        creds = grpc.ssl_channel_credentials(root_certificates=(pki / "ca.pem").read_bytes())
        with grpc.secure_channel(srv.address, creds) as ch:
            assert _list_models(ch).models[0].name == "fake"
        with grpc.insecure_channel(srv.address) as ch, pytest.raises(grpc.RpcError) as info:
            _list_models(ch)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE


def test_mutual_tls_requires_a_client_certificate(pki):
    tls = TlsConfig(pki / "server.pem", pki / "server.key", client_ca_file=pki / "ca.pem")
    ca = (pki / "ca.pem").read_bytes()
    with running_server([FakeRuntime()], tls=tls) as srv:
        with grpc.secure_channel(srv.address, grpc.ssl_channel_credentials(ca)) as ch:
            with pytest.raises(grpc.RpcError) as info:
                _list_models(ch)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        creds = grpc.ssl_channel_credentials(
            ca, private_key=(pki / "client.key").read_bytes(), certificate_chain=(pki / "client.pem").read_bytes()
        )
        with grpc.secure_channel(srv.address, creds) as ch:
            assert _list_models(ch).models[0].name == "fake"


def test_bearer_token():
    with running_server([FakeRuntime()], auth_tokens=("s3cret", "other")) as srv, srv.channel() as ch:
        for metadata in (None, (("authorization", "Bearer wrong"),), (("authorization", "s3cret"),)):
            with pytest.raises(grpc.RpcError) as info:
                _list_models(ch, metadata=metadata)
            assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError) as info:  # streams too
            list(srv.stub(ch).EncodeStream(iter([pb.EncodeRequest()]), timeout=5))
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED

        assert _list_models(ch, metadata=(("authorization", "Bearer s3cret"),)).models
        assert _list_models(ch, metadata=(("authorization", "Bearer other"),)).models
        # Health stays open for load balancers and orchestrators.
        health = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        handled = srv.metrics()
        key = (("grpc_code", "UNAUTHENTICATED"), ("grpc_method", "ListModels"),
               ("grpc_service", "screencodec.v1.ScreenCodec"), ("grpc_type", "unary"))
        assert handled[("grpc_server_handled_total", key)] == 3
