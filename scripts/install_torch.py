"""Install a CPU build of torch before anything else asks for torch.

Plain `pip install torch` on Linux resolves to a multi-GB CUDA build. This asks pip what it
*would* install (a dry run: nothing is downloaded) and takes it only when that is a CPU build,
as from a local wheel folder; otherwise it installs from PyTorch's CPU-only index.
"""

from __future__ import annotations

import json
import subprocess
import sys

VERSION = "2.13.0"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def pip(*args: str, capture: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pip", *args], check=True, text=True, capture_output=capture
    )


def main() -> None:
    try:
        import torch

        print(f"torch {torch.__version__} already installed")
        return
    except ImportError:
        pass
    report = json.loads(
        pip(
            "install", "--dry-run", "--quiet", "--report", "-", f"torch=={VERSION}", capture=True
        ).stdout
    )
    torch_item = next(i for i in report["install"] if i["metadata"]["name"] == "torch")
    url = torch_item["download_info"]["url"]
    cuda_deps = any(i["metadata"]["name"].startswith("nvidia-") for i in report["install"])
    if "+cpu" in url or url.startswith("file:") and not cuda_deps:
        print(f"installing torch {VERSION} (CPU build) from {url.rsplit('/', 1)[-1]}")
        pip("install", f"torch=={VERSION}")
    else:
        print(f"installing torch {VERSION} (CPU build) from {CPU_INDEX}")
        pip("install", f"torch=={VERSION}", "--index-url", CPU_INDEX)


if __name__ == "__main__":
    main()
