"""The CPU a process runs on: model, architecture, cores and instruction-set level.

Recorded per worker (and for the driver host) because quantized CPU inference is not
hardware-independent: CTranslate2's int8 matrix products go through oneDNN/MKL kernels chosen
by instruction set, and an AVX-512 VNNI CPU gives different int8 transcripts than an AVX2 one.
float32 agrees across CPUs. Nothing heavy is imported here (no ctranslate2, no torch).
"""

from __future__ import annotations

import os
import platform
import subprocess
from typing import Any

__all__ = ["cpu_info"]

# Flags that decide which kernels inference libraries pick (names as Linux /proc/cpuinfo spells them).
_X86_FLAGS = frozenset({
    "sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c", "avx_vnni", "avx512f", "avx512bw", "avx512vl",
    "avx512_vnni", "avx512vnni", "avx512_bf16", "avx512_fp16", "amx_int8", "amx_bf16",
})
_ARM_FLAGS = frozenset({"neon", "asimd", "asimdhp", "asimddp", "dotprod", "i8mm", "bf16", "fp16", "sve", "sve2"})

# Environment variables that override the kernels CTranslate2 and its GEMM libraries select.
_ISA_ENV = ("CT2_FORCE_CPU_ISA", "CT2_USE_MKL", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS")

# macOS (Intel) sysctl feature names that differ from Linux's.
_DARWIN_X86_NAMES = {"sse4.1": "sse4_1", "sse4.2": "sse4_2", "avx1.0": "avx", "avx512vnni": "avx512_vnni"}


def _arch_family(arch: str) -> str:
    """``x86``, ``arm`` or the lower-cased machine name."""
    arch = arch.lower()
    if arch in ("x86_64", "amd64", "x64", "i386", "i686"):
        return "x86"
    if arch in ("arm64", "aarch64") or arch.startswith("armv8"):
        return "arm"
    return arch


def _isa_level(flags: set[str] | frozenset[str], arch: str, system: str = "Linux") -> str:
    """The highest instruction-set level that matters for inference kernels.

    x86-64: ``avx512-amx``, ``avx512-vnni``, ``avx512``, ``avx2-vnni``, ``avx2``, ``avx``, ``sse4``,
    ``generic``; arm64: ``apple`` (Apple silicon, NEON), ``sve2``, ``sve``, ``neon-dotprod``,
    ``neon``, ``generic``; another architecture: its name.
    """
    family = _arch_family(arch)
    if family == "x86":
        if "avx512f" in flags and "amx_int8" in flags:
            return "avx512-amx"
        if "avx512f" in flags and flags & {"avx512_vnni", "avx512vnni"}:
            return "avx512-vnni"
        if "avx512f" in flags:
            return "avx512"
        if "avx2" in flags:
            return "avx2-vnni" if "avx_vnni" in flags else "avx2"
        if "avx" in flags:
            return "avx"
        if flags & {"sse4_1", "sse4_2"}:
            return "sse4"
        return "generic"
    if family == "arm":
        if system == "Darwin":
            return "apple"
        if "sve2" in flags:
            return "sve2"
        if "sve" in flags:
            return "sve"
        if flags & {"asimd", "neon"}:
            return "neon-dotprod" if flags & {"asimddp", "dotprod"} else "neon"
        return "generic"
    return family or "unknown"


def _parse_proc_cpuinfo(text: str) -> tuple[str | None, set[str]]:
    """(model name, flags) from Linux ``/proc/cpuinfo`` text (x86 ``flags``, arm ``Features``)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        key = key.strip().lower()
        if sep and key not in fields:  # the first processor's entry
            fields[key] = value.strip()
    model = fields.get("model name") or fields.get("hardware") or fields.get("processor name")
    if not model and "cpu implementer" in fields:
        model = f"ARM implementer {fields['cpu implementer']} part {fields.get('cpu part', '?')}"
    flags = set((fields.get("flags") or fields.get("features") or "").lower().split())
    return model or None, flags


def _parse_darwin_features(text: str) -> set[str]:
    """Flags from macOS ``sysctl`` output: Intel feature lists (``machdep.cpu.features``,
    ``leaf7_features``) or Apple silicon ``hw.optional.*: 1`` lines (``FEAT_DotProd`` -> ``dotprod``)."""
    flags: set[str] = set()
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip().startswith("hw.optional."):
            if value.strip() == "1":
                leaf = name.strip().rsplit(".", 1)[-1].lower()
                flags.add(leaf.removeprefix("feat_"))
            continue
        for word in (value if sep else line).lower().split():
            flags.add(_DARWIN_X86_NAMES.get(word, word))
    return flags


def _sysctl(*args: str) -> str:
    try:
        return subprocess.run(["sysctl", *args], capture_output=True, text=True, timeout=5, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def _model_and_flags(system: str) -> tuple[str | None, set[str]]:
    if system == "Linux":
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
                return _parse_proc_cpuinfo(fh.read())
        except OSError:
            return None, set()
    if system == "Darwin":
        model = _sysctl("-n", "machdep.cpu.brand_string").strip() or None
        text = _sysctl("machdep.cpu.features", "machdep.cpu.leaf7_features") + _sysctl("hw.optional")
        return model, _parse_darwin_features(text)
    return None, set()


def cpu_info() -> dict[str, Any]:
    """This process's CPU, for the run record.

    Returns a dict with ``model`` (name string), ``arch`` (``platform.machine()``),
    ``logical_cores``, ``isa`` (see :func:`_isa_level`), ``flags`` (the inference-relevant flags
    found, sorted), ``forced_isa`` (``CT2_FORCE_CPU_ISA`` when set, else ``None``) and
    ``isa_env`` (every set variable that overrides kernel selection in CTranslate2, oneDNN or MKL).
    """
    system = platform.system()
    arch = platform.machine()
    model, flags = _model_and_flags(system)
    relevant = _X86_FLAGS if _arch_family(arch) == "x86" else _ARM_FLAGS
    env = {name: os.environ[name] for name in _ISA_ENV if os.environ.get(name)}
    return {
        "model": model or platform.processor() or None,
        "arch": arch,
        "logical_cores": os.cpu_count(),
        "isa": _isa_level(flags, arch, system),
        "flags": sorted(flags & relevant),
        "forced_isa": env.get("CT2_FORCE_CPU_ISA"),
        "isa_env": env,
    }
