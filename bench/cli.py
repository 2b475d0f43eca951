"""Command line: thin verbs over same-named Python functions (tests call those functions directly).

Verbs so far: `model info`. The benchmark verbs (list, run, sweep, report, runtime, paper, data) arrive with
the issues that build them.
"""

from __future__ import annotations

import argparse
import sys

from bench import __version__
from bench.errors import HmrbenchError


def model_info_command(args: argparse.Namespace) -> int:
    from bench.body_model import model_info

    info = model_info(args.model_path)
    width = max(len(k) for k in info)
    for key, value in info.items():
        print(f"{key:<{width}}  {value}")
    if info["synthetic"]:
        print("\nNOTE: this is the embedded, procedurally generated SMPL-X-format model, not SMPL-X; results "
              "computed with it are synthetic. Give --model-path or SMPLX_MODEL_PATH to use the real model.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hmrbench",
        description="Benchmark suite for monocular whole-body human mesh recovery "
        "(Sun et al., 'Synthetic Training for Monocular Human Mesh Recovery').",
    )
    parser.add_argument("--version", action="version", version=f"hmrbench {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    model = verbs.add_parser("model", help="the SMPL-X body model in use (real or embedded)")
    model_verbs = model.add_subparsers(dest="model_verb", metavar="ACTION", required=True)
    info = model_verbs.add_parser("info", help="which model is in use: path, hash, sizes, synthetic or not")
    info.add_argument("--model-path", default=None,
                      help="SMPL-X .npz/.pkl file or a folder laid out as smplx.create expects "
                      "(default: $SMPLX_MODEL_PATH, else the embedded synthetic model)")
    info.set_defaults(func=model_info_command)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except HmrbenchError as exc:
        print(f"hmrbench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hmrbench: interrupted", file=sys.stderr)
        return 130
