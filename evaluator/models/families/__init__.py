"""Model families of the ``transformers`` backend: ``config.json`` -> the adapter that runs it.

See :mod:`evaluator.models.families.base` for the adapter contract. The package's modules import
the Backend contract (:mod:`evaluator.models.contract`), never the backend registry
(:mod:`evaluator.models.backends`, which imports them). Nothing here imports transformers or torch:
the driver reads a checkpoint's config (:func:`read_config`) and picks its family
(:func:`family_for`) before any actor starts; a checkpoint no family runs (a text-only or image
model) is refused there with the supported families listed. :func:`families_table` gives the rows
``evaluator models`` prints.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from evaluator.errors import ConfigError
from evaluator.models.families.base import KINDS, Family, FamilyInfo
from evaluator.models.families.ctc import CTCFamily
from evaluator.models.families.seamless import SeamlessM4TFamily
from evaluator.models.families.seq2seq import SEQ2SEQ_FAMILIES
from evaluator.models.families.speech_llm import SPEECH_LLM_FAMILIES
from evaluator.models.families.transducer import TransducerFamily
from evaluator.models.families.whisper import WhisperFamily

__all__ = ["FAMILIES", "Family", "FamilyInfo", "KINDS", "families_table", "family_for", "read_config",
           "supported_families"]

#: Every family, first match wins.
FAMILIES: tuple[type[FamilyInfo], ...] = (WhisperFamily, CTCFamily, TransducerFamily, *SEQ2SEQ_FAMILIES,
                                           SeamlessM4TFamily, *SPEECH_LLM_FAMILIES)


def supported_families() -> str:
    """One line naming every family and the model types it runs (for error messages)."""
    return "; ".join(f"{f.name} ({f.kind}: {', '.join(f.model_types or f.architectures)})" for f in FAMILIES)


def families_table() -> list[tuple[str, str, str, str]]:
    """Rows for ``evaluator models``: (family, kind, architectures, example hub ids)."""
    return [(f.name, f.kind, ", ".join(f.architectures or f.model_types), ", ".join(f.examples)) for f in FAMILIES]


def read_config(model: str, revision: str | None = None, download: bool = True) -> tuple[dict[str, Any], str]:
    """(``config.json`` as a dict, where it was read) for a local folder, a bundled alias or a hub id.

    A hub id's config comes from the local Hugging Face cache, or (``download``) is downloaded
    alone (a few KB) when the hub can be reached. Raises ``ConfigError`` naming the fix when there
    is none.
    """
    from evaluator.models.files import hub_offline, looks_like_path
    from evaluator.models.weights import BUNDLED

    expanded = os.path.expanduser(model)
    if os.path.isdir(expanded):
        path = os.path.join(expanded, "config.json")
        if not os.path.isfile(path):
            raise ConfigError(f"transformers:{model}: {expanded} has no config.json, so it is not a transformers "
                              "checkpoint; save the model with save_pretrained (config, weights and processor)")
        return _load(path, model), path
    if os.path.exists(expanded) or looks_like_path(model):
        raise ConfigError(f"transformers:{model}: give the folder of a transformers checkpoint (with config.json), "
                          "or a hub id (namespace/name)")
    if model in BUNDLED:
        return {"model_type": "whisper", "architectures": ["WhisperForConditionalGeneration"]}, f"bundled {model}"
    from huggingface_hub import hf_hub_download

    try:
        path = hf_hub_download(model, "config.json", revision=revision, local_files_only=True)
    except Exception:
        path = None
    if path is not None:
        return _load(path, model), path
    try:
        if not download:
            raise LookupError("not in the local cache")
        path = hf_hub_download(model, "config.json", revision=revision, local_files_only=hub_offline())
    except Exception as exc:  # offline and not cached, no network, no such repository, gated
        raise ConfigError(
            f"transformers:{model}: cannot read its config.json from the Hugging Face hub or the local cache "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); download the model where "
            f"there is a network (`hf download {model}`) or give a local folder") from None
    return _load(path, model), path


def _load(path: str, model: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            config = json.load(fh)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"transformers:{model}: cannot read {path} ({exc})") from None
    if not isinstance(config, dict):
        raise ConfigError(f"transformers:{model}: {path} is not a JSON object")
    return config


def family_for(config: Mapping[str, Any], model: str, options: Mapping[str, Any] | None = None) -> type[FamilyInfo]:
    """The family that runs a checkpoint with this config.

    Raises:
        ConfigError: no family runs it (a text-only or image model, an unknown architecture), or
            it needs code shipped with the checkpoint and ``?trust_remote_code=true`` was not given;
            the message lists the supported families.
    """
    for family in FAMILIES:
        if family.matches(config):
            return family
    what = f"model_type {config.get('model_type')!r}, architectures {list(config.get('architectures') or [])}"
    if config.get("auto_map") and not (options or {}).get("trust_remote_code"):
        raise ConfigError(
            f"transformers:{model}: its config ({what}) names code shipped with the checkpoint (auto_map); "
            "the evaluator does not run it unless you pass ?trust_remote_code=true, and even then only "
            f"for a supported family. Supported: {supported_families()}")
    raise ConfigError(f"transformers:{model}: {what} is not a speech recognition architecture the transformers "
                      f"backend runs. Supported families: {supported_families()}")
