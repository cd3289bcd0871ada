"""Suites: several datasets evaluated in one run, from a YAML file or a named preset.

A suite file lists its datasets; each entry holds the fields of a
:class:`~evaluator.data.spec.DatasetSpec` (``source``, ``config``, ``split``, the column
overrides, ``language``, ``max_samples``, ``long_form``) and a short ``name`` that results and
tables use::

    description: my test sets                  # optional
    defaults: {language: en}                   # optional, applied to every entry
    datasets:
      - {name: ami, source: hf-audio/esb-datasets-test-only-sorted, config: ami, split: test}
      - {name: calls, source: ./data/calls, max_samples: 500}   # relative to this file

A preset for many languages gives a ``template`` whose ``{language}`` and ``{config}`` are
filled from ``languages`` (a language code -> the dataset's config), for the chosen languages
(``default_languages`` unless the caller picks). Presets ship as YAML in ``evaluator/data/suites/``:
:func:`preset_names` lists them.

A local ``mirror`` folder stands in for the hub: an entry whose source is ``ORG/NAME`` with config
``CONFIG`` reads ``MIRROR/ORG/NAME/CONFIG`` (``MIRROR/ORG/NAME`` without a config) where that
folder exists, with the entry's split (a sub-folder per split of an audiofolder, or a saved
dataset's split).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluator.data.spec import DatasetSpec
from evaluator.errors import ConfigError

__all__ = ["Suite", "load_suite", "preset_names", "PRESET_DIR"]

PRESET_DIR = Path(__file__).parent / "suites"
_ENTRY_FIELDS = tuple(f.name for f in dataclasses.fields(DatasetSpec))
_FILE_KEYS = ("name", "description", "datasets", "defaults", "template", "languages", "default_languages")


@dataclass(frozen=True)
class Suite:
    """A named list of datasets.

    Attributes:
        name: the preset's name, or the file's stem.
        description: one line for humans.
        datasets: the entries, each with its ``name`` set (unique within the suite).
    """

    name: str
    description: str
    datasets: tuple[DatasetSpec, ...]


def preset_names() -> list[str]:
    """The suites that ship with evaluator (``--suite NAME``)."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def load_suite(ref: str, languages: Sequence[str] | None = None, mirror: str | None = None) -> Suite:
    """The suite a file path or a preset name names.

    Args:
        ref: a YAML file, or the name of a preset (:func:`preset_names`).
        languages: for a suite with a ``template``: the languages to evaluate (codes or the
            dataset's config names); ``None``: its ``default_languages``.
        mirror: a folder holding local copies of hub datasets (see the module docstring).

    Raises:
        ConfigError: the file cannot be read, a key or language is unknown (valid ones listed),
            two entries share a name.
    """
    import yaml

    path = Path(ref)
    if not path.is_file():
        preset = PRESET_DIR / f"{ref}.yaml"
        if not preset.is_file():
            raise ConfigError(f"--suite {ref!r} is neither a file nor a preset; presets: {', '.join(preset_names())}")
        path = preset
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read suite file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping with a `datasets` list (or a `template` and `languages`)")
    unknown = sorted(set(data) - set(_FILE_KEYS))
    if unknown:
        raise ConfigError(f"{path}: unknown keys {', '.join(unknown)}; valid: {', '.join(_FILE_KEYS)}")
    if languages is not None and "template" not in data:
        raise ConfigError(f"--languages applies to suites with one entry per language; {path.name} lists its datasets")
    entries = _expand(data, languages, path) if "template" in data else list(data.get("datasets") or [])
    if not entries:
        raise ConfigError(f"{path} lists no datasets")
    defaults = data.get("defaults") or {}
    base = path.parent if path.parent != PRESET_DIR else None
    specs = tuple(_entry({**defaults, **_mapping(e, path)}, path, base, mirror) for e in entries)
    names = [s.name for s in specs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"{path}: entries named twice: {', '.join(str(t) for t in twice)}; give each its own `name`")
    return Suite(str(data.get("name") or path.stem), str(data.get("description") or ""), specs)


def _mapping(entry: Any, path: Path) -> dict[str, Any]:
    if isinstance(entry, str):  # a bare source
        return {"source": entry}
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{path}: each dataset entry must be a mapping (or a source), got {entry!r}")
    return dict(entry)


def _expand(data: dict[str, Any], languages: Sequence[str] | None, path: Path) -> list[dict[str, Any]]:
    """A template's entries for the chosen languages."""
    table = {str(k): str(v) for k, v in (data.get("languages") or {}).items()}
    wanted = list(languages) if languages is not None else list(data.get("default_languages") or table)
    by_config = {v.lower(): k for k, v in table.items()}
    out = []
    for language in wanted:
        key = str(language).strip()
        code = key if key in table else by_config.get(key.lower()) or next(
            (k for k in table if k.lower() == key.lower()), None)
        if code is None:
            raise ConfigError(f"{path.stem} has no language {key!r}; it has: {', '.join(sorted(table))}")
        template = data["template"]
        out.append({k: v.format(language=code, config=table[code]) if isinstance(v, str) else v
                    for k, v in template.items()})
    return out


def _entry(entry: dict[str, Any], path: Path, base: Path | None, mirror: str | None) -> DatasetSpec:
    entry = {str(k).replace("-", "_"): v for k, v in entry.items()}
    if "dataset" in entry:  # the CLI's name for it
        entry["source"] = entry.pop("dataset")
    if "subset" in entry:
        entry["config"] = entry.pop("subset")
    unknown = sorted(set(entry) - set(_ENTRY_FIELDS))
    if unknown:
        raise ConfigError(f"{path}: unknown dataset keys {', '.join(unknown)}; valid: {', '.join(_ENTRY_FIELDS)}")
    source = entry.get("source")
    if source is not None:
        source = str(source)
        if base is not None and not os.path.isabs(source) and (
                source.startswith(("./", "../")) or (base / source).exists()):
            source = str((base / source).resolve())  # relative to the suite file, where it is read
        local = _mirrored(source, entry.get("config"), mirror)
        if local is not None:
            source, entry["config"] = local, None
        entry["source"] = source
    if "max_samples" in entry and entry["max_samples"] is not None:
        entry["max_samples"] = int(entry["max_samples"])
    spec = DatasetSpec(**entry)
    if spec.name is None:
        tail = os.path.basename((spec.source or "sample").rstrip("/"))
        spec = dataclasses.replace(spec, name="-".join(p for p in (tail, spec.config, spec.split) if p))
    return spec.resolved()


def _mirrored(source: str, config: str | None, mirror: str | None) -> str | None:
    """The mirror's copy of a hub dataset, if the mirror has one."""
    if not mirror or os.path.isabs(source) or os.path.exists(source):
        return None
    folder = Path(mirror) / source / (config or "")
    return str(folder.resolve()) if folder.is_dir() else None
