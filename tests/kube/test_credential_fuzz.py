"""Hypothesis: any bytes as a kubeconfig or a token file give a config, a token, or one line
that says why without quoting the file (issue 23, findings 1 and 6)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.kube_client.kubeconfig import KubeconfigError, cluster_config
from exporter.kube_settings import KubernetesSettings
from exporter.secret_files import SecretFileError, read_single_line

#: Pieces of YAML that reach the loader's corners: nesting, aliases, tags, documents, tabs.
YAML_PIECES = st.sampled_from(
    [b"clusters:", b"- ", b"{", b"}", b"[", b"]", b"&a ", b"*a", b"!!python/object ", b"---\n",
     b"\n", b"  ", b"\t", b": ", b"name: c", b"server: https://x", b"current-context: c",
     b"contexts:", b"users:", b"token: ", b"\xff", b"'", b'"', b"|", b">", b"#", b"%YAML 1.1\n"]
)  # fmt: skip
KUBECONFIG_BYTES = st.one_of(
    st.binary(max_size=200), st.lists(YAML_PIECES, max_size=40).map(b"".join)
)


@settings(max_examples=300, deadline=None, database=None)
@given(data=KUBECONFIG_BYTES)
def test_any_bytes_as_a_kubeconfig_give_a_config_or_one_line(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "config"
        path.write_bytes(data)
        try:
            config = cluster_config(KubernetesSettings(enabled=True, kubeconfig=str(path)))
        except KubeconfigError as error:
            assert str(error) and "\n" not in str(error)
        else:
            assert config.base_url.startswith(("https://", "http://"))


@settings(max_examples=300, deadline=None, database=None)
@given(data=st.binary(max_size=100) | st.text(max_size=60).map(str.encode))
def test_any_token_file_is_a_token_or_one_line_without_its_contents(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "token"
        path.write_bytes(data)
        try:
            token = read_single_line(path, "bearer token")
        except SecretFileError as error:
            message = str(error).removeprefix(str(path))
            assert "\n" not in message
            text = data.decode("utf-8", errors="replace").strip()
            if len(text) >= 8:
                assert text not in message
        else:
            assert token.isascii() and token.isprintable()
            assert token == data.decode().strip()
