"""CPU identification: the parsing is pure and table-tested; cpu_info() runs on this machine."""

from __future__ import annotations

import platform

import pytest

from evaluator.run.plan.hardware import _isa_level, _parse_darwin_features, _parse_proc_cpuinfo, cpu_info

X86_BASE = {"fpu", "sse", "sse2", "ssse3", "sse4_1", "sse4_2", "popcnt"}
AVX2 = X86_BASE | {"avx", "avx2", "fma", "f16c"}
AVX512 = AVX2 | {"avx512f", "avx512bw", "avx512vl", "avx512dq"}
AVX512_VNNI = AVX512 | {"avx512_vnni"}
ARM = {"fp", "asimd", "evtstrm", "aes", "pmull", "crc32", "cpuid"}


@pytest.mark.parametrize(
    ("flags", "arch", "system", "expected"),
    [
        (AVX2, "x86_64", "Linux", "avx2"),
        (AVX2 | {"avx_vnni"}, "x86_64", "Linux", "avx2-vnni"),
        (AVX512, "x86_64", "Linux", "avx512"),
        (AVX512_VNNI, "x86_64", "Linux", "avx512-vnni"),
        (AVX512 | {"avx512vnni"}, "AMD64", "Windows", "avx512-vnni"),  # macOS/Windows spelling
        (AVX512_VNNI | {"amx_int8", "amx_bf16"}, "x86_64", "Linux", "avx512-amx"),
        (X86_BASE | {"avx"}, "x86_64", "Linux", "avx"),
        (X86_BASE, "x86_64", "Linux", "sse4"),
        ({"sse", "sse2"}, "x86_64", "Linux", "generic"),
        (set(), "x86_64", "Linux", "generic"),
        ({"avx512_vnni"}, "x86_64", "Linux", "generic"),  # VNNI without AVX-512F is not AVX-512
        (ARM, "aarch64", "Linux", "neon"),
        (ARM | {"asimddp"}, "aarch64", "Linux", "neon-dotprod"),
        (ARM | {"asimddp", "sve"}, "aarch64", "Linux", "sve"),
        (ARM | {"asimddp", "sve", "sve2", "i8mm"}, "aarch64", "Linux", "sve2"),
        ({"neon", "dotprod"}, "arm64", "Darwin", "apple"),
        (set(), "arm64", "Darwin", "apple"),
        (set(), "aarch64", "Linux", "generic"),
        (set(), "riscv64", "Linux", "riscv64"),
        (set(), "", "Linux", "unknown"),
    ],
)
def test_isa_level(flags: set[str], arch: str, system: str, expected: str) -> None:
    assert _isa_level(flags, arch, system) == expected


X86_CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 9R14 96-Core Processor
flags\t\t: fpu sse sse2 sse4_1 sse4_2 avx avx2 fma f16c avx512f avx512_vnni
bugs\t\t: sysret_ss_attrs

processor\t: 1
model name\t: AMD EPYC 9R14 96-Core Processor
flags\t\t: fpu sse sse2 sse4_1 sse4_2 avx avx2 fma f16c avx512f avx512_vnni
"""

ARM_CPUINFO = """processor\t: 0
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm asimddp sve
CPU implementer\t: 0x41
CPU architecture: 8
CPU part\t: 0xd40
"""


@pytest.mark.parametrize(
    ("text", "model", "present", "level"),
    [
        (X86_CPUINFO, "AMD EPYC 9R14 96-Core Processor", {"avx512f", "avx512_vnni", "avx2"}, "avx512-vnni"),
        (ARM_CPUINFO, "ARM implementer 0x41 part 0xd40", {"asimd", "asimddp", "sve"}, "sve"),
        ("", None, set(), "generic"),
    ],
)
def test_parse_proc_cpuinfo(text: str, model: str | None, present: set[str], level: str) -> None:
    got_model, flags = _parse_proc_cpuinfo(text)
    assert got_model == model
    assert present <= flags
    arch = "aarch64" if "Features" in text else "x86_64"
    assert _isa_level(flags, arch) == level


def test_parse_darwin_features() -> None:
    intel = ("machdep.cpu.features: FPU VME SSE SSE2 SSE3 SSE4.1 SSE4.2 AVX1.0 F16C\n"
             "machdep.cpu.leaf7_features: AVX2 FMA AVX512F AVX512VNNI\n")
    assert _isa_level(_parse_darwin_features(intel), "x86_64", "Darwin") == "avx512-vnni"
    apple = "hw.optional.neon: 1\nhw.optional.arm.FEAT_DotProd: 1\nhw.optional.arm.FEAT_SME: 0\n"
    assert _parse_darwin_features(apple) >= {"neon", "dotprod"}
    assert "sme" not in _parse_darwin_features(apple)


def test_cpu_info_describes_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CT2_FORCE_CPU_ISA", "GENERIC")
    info = cpu_info()
    assert set(info) >= {"model", "arch", "logical_cores", "isa", "flags", "forced_isa", "isa_env"}
    assert info["arch"] == platform.machine()
    assert info["logical_cores"] >= 1
    assert isinstance(info["isa"], str) and info["isa"]
    assert info["forced_isa"] == "GENERIC" and info["isa_env"]["CT2_FORCE_CPU_ISA"] == "GENERIC"
    if platform.system() in ("Linux", "Darwin") and platform.machine() in ("x86_64", "aarch64", "arm64"):
        assert info["model"] and info["isa"] != "unknown"
    monkeypatch.delenv("CT2_FORCE_CPU_ISA")
    assert cpu_info()["forced_isa"] is None
