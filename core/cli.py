"""Command line: ``python -m core {body,bench,demo-assets,checkpoints} ...``.

Every command prints a clear one-line error (exit code 2) for bad arguments instead of a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path


class CliError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


def _cmd_body_build(args: argparse.Namespace) -> int:
    try:
        import anny  # noqa: F401
    except ImportError:
        raise CliError("the body build needs Anny: pip install -e '.[body-build]'") from None
    from core.body.build import BuildConfig, build_body_model, register_body_model

    if args.faces < 500 or args.faces > 20000:
        raise CliError("--faces must be between 500 and 20000")
    if args.samples < 20:
        raise CliError("--samples must be at least 20 (the shape PCA needs them)")
    cfg = BuildConfig(num_samples=args.samples, target_faces=args.faces, seed=args.seed)
    info = build_body_model(Path(args.out), cfg)
    if not args.no_register:
        register_body_model(Path(args.out), info)
        print(
            f"registered in checkpoints/manifest.json as 'body'; card: {Path(args.out).parent / 'README.md'}"
        )
    return 0


def _cmd_body_info(args: argparse.Namespace) -> int:
    from core.body import BodyModel

    body = BodyModel(args.dir)
    print(f"source: {body.source}")
    print(f"vertices: {body.num_vertices}  faces: {len(body.faces)}  uv vertices: {len(body.verts_uvs)}")
    return 0


def _cmd_bench_render(args: argparse.Namespace) -> int:
    from core.render.bench import bench_render, format_table

    if args.repeats < 1 or args.batch < 1:
        raise CliError("--repeats and --batch must be >= 1")
    rows = bench_render(batch=args.batch, repeats=args.repeats)
    print(format_table(rows))
    return 0


def _cmd_demo_assets(args: argparse.Namespace) -> int:
    from core.render.figures import body_grid

    path = body_grid(Path(args.out) / "body_grid.png")
    print(f"wrote {path}")
    return 0


def _cmd_checkpoints_verify(args: argparse.Namespace) -> int:
    from core.checkpoints import verify_all

    results = verify_all()
    for name, ok, message in results:
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {message}")
    return 0 if all(ok for _, ok, _ in results) else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Disentangle Studio command line")
    sub = parser.add_subparsers(dest="command", required=True)

    body = sub.add_parser("body", help="the open SMPL-compatible body model").add_subparsers(
        dest="action", required=True
    )
    build = body.add_parser("build", help="build checkpoints/body/open_body.npz from Anny")
    build.add_argument("--out", default="checkpoints/body/open_body.npz")
    build.add_argument("--samples", type=int, default=400, help="phenotype samples (default 400)")
    build.add_argument("--faces", type=int, default=6000, help="triangles after decimation (default 6000)")
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--no-register", action="store_true", help="do not update the manifest")
    build.set_defaults(func=_cmd_body_build)
    info = body.add_parser("info", help="print the body model's sizes")
    info.add_argument("--dir", default=None, help="body folder (default checkpoints/body)")
    info.set_defaults(func=_cmd_body_info)

    bench = sub.add_parser("bench", help="benchmarks").add_subparsers(dest="target", required=True)
    render = bench.add_parser("render", help="render speed vs bare PyTorch3D rasteriser")
    render.add_argument("--batch", type=int, default=4)
    render.add_argument("--repeats", type=int, default=3)
    render.set_defaults(func=_cmd_bench_render)

    assets = sub.add_parser("demo-assets", help="render the README's pictures")
    assets.add_argument("--out", default="docs")
    assets.set_defaults(func=_cmd_demo_assets)

    ckpt = sub.add_parser("checkpoints", help="shipped checkpoints").add_subparsers(
        dest="action", required=True
    )
    ckpt.add_parser("verify", help="check every file against manifest.json").set_defaults(
        func=_cmd_checkpoints_verify
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except CliError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
