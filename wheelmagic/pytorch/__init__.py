"""What is PyTorch rather than PEP 825. Pure: no network, disk, environment or clock.

* `backend`: `Backend`, the one type every build-line spelling parses into (`cu128`,
  `cuda12.8`, `+cu128`, `rocm6.4`, `xpu`, `cpu`, `null`);
* `facts`: every PyTorch build table once, with its source (per-release CUDA arch lists, ROCm
  gfx targets, XPU device IPs, per-backend index names, companion releases);
* `companions`: the policy that keeps torchvision and torchaudio on torch's release and line,
  handed to the PEP 825 engine (`wheelmagic.variants.selection.select_together`);
* `diagnose`: an installed build against a `Platform`: verdict, PyTorch's own message, `Fix`.

NVIDIA driver facts (minor-version-compatibility floors, driver->CUDA, integrated GPUs) are
platform facts and live beside the nvidia provider (`wheelmagic.providers.nvidia`).
May import `wheelmagic.variants`, `wheelmagic.providers` and `wheelmagic.platform.model`.
"""

from wheelmagic.pytorch.backend import Backend

__all__ = ["Backend"]
