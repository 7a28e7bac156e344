"""Import CompressAI's building blocks without its package ``__init__``.

``import compressai`` eagerly imports its datasets and registries, which pull in torchvision,
torch_geometric and pandas only to fill dictionaries (../shared/FINDINGS.md section 1). We need
four of its modules: ``entropy_models``, ``layers``, ``ops`` and the C++ ``ans`` rANS coder.
Registering an empty package object whose ``__path__`` points at the installed folder lets Python
import exactly those submodules. ``compressai.ans`` imported this way does not import torch, so the
serving runtime can use CompressAI's rANS without torch.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types


def _install_package_shell() -> None:
    if "compressai" in sys.modules:
        return
    spec = importlib.util.find_spec("compressai")
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError(
            "compressai is not installed: pip install --no-deps compressai==1.2.8 (see README)"
        )
    shell = types.ModuleType("compressai")
    shell.__path__ = list(spec.submodule_search_locations)
    shell.__spec__ = spec
    shell.__file__ = spec.origin
    # The two entropy-coder queries entropy_models asks its package for; rANS is the only coder.
    shell.get_entropy_coder = lambda: "ans"
    shell.available_entropy_coders = lambda: ["ans"]
    sys.modules["compressai"] = shell


def compressai_module(name: str) -> types.ModuleType:
    """Return ``compressai.<name>`` (e.g. ``"ans"``, ``"entropy_models"``, ``"layers"``)."""
    _install_package_shell()
    return importlib.import_module(f"compressai.{name}")
