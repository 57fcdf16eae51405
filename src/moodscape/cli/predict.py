"""Using a model: export, predict, models."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .common import positive_float, positive_int

log = logging.getLogger("moodscape")


def _cmd_export(args: argparse.Namespace) -> int:
    from ..export.run import export_run

    summary = export_run(args.run_dir, formats=args.format or ["onnx"], quantize=args.quantize, out_dir=args.out)
    out = Path(summary["out_dir"])
    for name, info in summary["files"].items():
        print(f"{name:20} {out / info['path']}  ({info['mb']:.2f} MB)")
    parity = summary["parity"]
    print(f"parity with PyTorch on {parity['source']} ({parity['windows']} windows):")
    for name, entry in parity.items():
        if isinstance(entry, dict) and "max_abs_diff" in entry:
            drop = entry.get("ccc_drop")
            extra = f", song CCC drop valence {drop['valence']:+.4f} arousal {drop['arousal']:+.4f}" if drop else ""
            print(f"  {name:20} max abs diff {entry['max_abs_diff']:.2e}{extra}  "
                  f"[{'ok' if entry['passed'] else 'FAILED'}: {entry['tolerance']}]")  # fmt: skip
    print(f"model card: {out / 'model_card.md'}")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from ..inference.batch import PredictionBatch
    from ..inference.outputs import format_tags, plot_names

    batch = PredictionBatch.open(args.paths, model=args.model, out=args.out, timeline=args.timeline, tags=args.tags,
                                 shard=args.shard, resume=args.resume, threads=args.threads,
                                 batch_size=args.batch_size, hop_seconds=args.hop, device=args.device)  # fmt: skip
    if batch.predictor is None:
        log.error("no audio files found in %s", ", ".join(map(str, args.paths)))
        return 1
    names = plot_names(batch.files) if args.plot else {}
    if batch.writer is None:
        print(f"{'file':40} {'valence':>8} {'arousal':>8} {'V 1-9':>6} {'A 1-9':>6}  quadrant")
    try:
        for path, result, _ in batch.run(timeline=bool(args.plot), progress=not args.quiet):
            if result is None:
                continue
            if batch.writer is None:
                print(f"{Path(result.path).name[:40]:40} {result.valence:8.3f} {result.arousal:8.3f} "
                      f"{result.valence_1_9:6.2f} {result.arousal_1_9:6.2f}  {result.quadrant} {result.mood}"
                      + (f"  ({result.warning})" if result.warning else ""), flush=True)  # fmt: skip
                if result.tags:
                    print(f"{'':40} tags: {format_tags(result.tags)}", flush=True)
            if args.plot:
                from ..eval.plots import plot_prediction

                plot_prediction(result, args.plot / names[path])
    finally:
        batch.close()
        for written in batch.written:
            print(f"wrote {written} ({batch.writer.count} songs)")
    for _, error in batch.failed:  # each reason names its file
        print(f"skipped: {error}", file=sys.stderr)
    print(f"{batch.done} of {len(batch.files)} files predicted", file=sys.stderr)
    return 1 if batch.files and not batch.done else 0


def _cmd_merge(args: argparse.Namespace) -> int:
    from ..inference.shards import merge_predictions

    if all(p.is_dir() for p in args.inputs):
        from ..features.merge import merge_stores

        print(merge_stores(args.inputs, args.out))
        return 0
    summary = merge_predictions(args.inputs, args.out)
    print(f"merged {summary['songs']} songs from {summary['shards']} shards into {', '.join(summary['files'])}")
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    from ..errors import CheckpointError
    from ..inference.catalog import find_models, shipped_model, shipped_models

    rows = []
    try:
        shipped_model()  # says what is wrong when the default is missing
        rows += shipped_models()
    except CheckpointError as exc:
        log.warning("%s", exc)
    shipped = {m.path.resolve() for m in rows}  # in a source checkout the shipped model is also found on disk
    rows += [m for m in find_models(args.paths or [Path(".")], max_depth=args.depth) if m.path.resolve() not in shipped]
    width = max([len("model"), *(len(m.name) for m in rows)])  # names are never cut: "(default)" stays whole
    print(f"{'model':{width}} {'kind':8} {'fused':5} {'MB':>6}  {'form':34} path")
    for m in rows:
        print(f"{m.name:{width}} {m.kind[:8]:8} {'yes' if m.fused else 'no':5} {m.mb:6.2f}  {m.form[:34]:34} {m.path}")
        if m.summary:
            print(f"{'':{width}} {m.summary}")
    print(f"{len(rows)} model(s); predict with one: moodscape predict SONG --model PATH|NAME (no --model: the default)")
    return 0


def add_commands(commands) -> None:
    """Register this group's subcommands on the top-level subparsers."""
    export = commands.add_parser(
        "export",
        help="export a trained model to ONNX / TorchScript (with int8)",
        description="Export RUN_DIR/best (a teacher or student run, or a checkpoint folder) with the log-mel front "
        "end and normalisation inside the model: model.onnx takes (batch, window samples) of mono audio at the "
        "model's rate and returns (valence, arousal); model-logmel.onnx takes dB log-mel instead; "
        "model.torchscript.pt is a traced TorchScript module; --quantize int8 adds model.int8.onnx (dynamic int8). "
        "Every file is checked against PyTorch on the run's real test songs (fp32 within 1e-3; int8 by its "
        "song-level CCC change) and OUT/export.json and OUT/model_card.md are written (default OUT: RUN_DIR/export).",
    )
    export.add_argument("run_dir", type=Path, help="run folder (teacher or student) or checkpoint folder")
    export.add_argument("--format", action="append", choices=["onnx", "torchscript"],
                        help="repeatable (default: onnx)")  # fmt: skip
    export.add_argument("--quantize", choices=["int8"], help="also write a dynamic int8 ONNX model")
    export.add_argument("--out", type=Path, help="output folder (default: RUN_DIR/export)")
    export.set_defaults(func=_cmd_export)

    predict = commands.add_parser(
        "predict",
        help="valence and arousal of audio files and folders",
        description="Predict valence and arousal for audio files, and folders searched recursively (any format "
        "soundfile reads, any sample rate and channel count, any length: files are decoded and resampled in "
        "blocks, so memory stays flat). Each song gets values on [-1, 1] and 1-9, a quadrant of Russell's "
        "circumplex and a mood word; --timeline adds the per-window curve. Without --model, the model shipped with "
        "moodscape is used (trained on the 4Q set; `moodscape models` shows its card). A fused model (see "
        "`moodscape fuse`) also computes each file's descriptors and, with the musicnn probe, runs both musicnn "
        "taggers over it: slower. A file that cannot be read is reported "
        "and skipped. Exit status: 0 when at least one file was predicted, 1 when every file failed (or none was "
        "found), 2 for a bad model or option.",
    )
    predict.add_argument("paths", type=Path, nargs="+", help="audio files or folders")
    predict.add_argument("--model", help="run folder (teacher or student), checkpoint folder, exported .onnx or export "
                         "folder, the name of a model shipped with moodscape, or Hub name (default: the model shipped "
                         "with moodscape; see `moodscape models`)")  # fmt: skip
    predict.add_argument("--out", type=Path, help="write results to F.csv (plus F_timeline.csv) or F.json")
    predict.add_argument("--timeline", action="store_true", help="per-window values (time, valence, arousal)")
    predict.add_argument("--plot", type=Path, metavar="DIR", help="draw each song's trajectory on the VA plane")
    predict.add_argument("--tags", action="store_true", help="also the top five tags of each pretrained musicnn tagger "
                         "shipped with moodscape (MSD_musicnn: genres, moods, decades; MTT_musicnn: instruments, "
                         "voices); decodes each file once more")  # fmt: skip
    predict.add_argument("--hop", type=positive_float,
                         help="seconds between windows (default: the model's evaluation hop)")  # fmt: skip
    predict.add_argument("--batch-size", type=positive_int, default=32,
                         help="windows per model call (default 32); memory grows with it")  # fmt: skip
    predict.add_argument("--threads", type=positive_int, help="CPU threads for the model (default: every core); with "
                         "several files and an exported model, the files are predicted side by side, one per thread")
    predict.add_argument("--device", default="cpu", help="where a PyTorch model runs: cpu (default), cuda, cuda:N or "
                         "auto; exported ONNX models, the shipped one among them, run on the CPU")  # fmt: skip
    predict.add_argument("--shard", metavar="K/N", help="predict only shard K of N (a fixed part of the files, by a hash "
                         "of each path relative to its folder); needs --out; join the tables with `moodscape merge`")
    predict.add_argument("--resume", action="store_true", help="continue the table of --out: files already in it are "
                         "skipped (a killed run's cut-off last song is redone)")
    predict.set_defaults(func=_cmd_predict)

    merge = commands.add_parser(
        "merge",
        help="join the shards of `predict --shard` (tables) or `features --shard` (stores) into one",
        description="Tables written by `moodscape predict --shard K/N --out FILE` (CSV or JSON, each with its "
        "FILE.shard.json) are joined into the table OUT, rows ordered by path as one unsharded run over the same "
        "folders writes them. Feature stores built by `moodscape features ROOT --out DIR --shard K/N` are joined "
        "into the store an unsharded build writes in the folder OUT (the same bytes; the dataset must be readable "
        "here to order the songs). Refuses missing or repeated shards, shards made with another model, dataset or "
        "settings, and anything that appears in two shards.",
    )
    merge.add_argument("out", type=Path, help="the joined table (.csv or .json), or the folder for the joined store")
    merge.add_argument("inputs", type=Path, nargs="+", help="the shards' tables, or the shards' store folders")
    merge.set_defaults(func=_cmd_merge)

    models = commands.add_parser(
        "models",
        help="list the shipped model and trained ones on disk",
        description="List the model shipped with moodscape (the default of `moodscape predict`, with its cross-validated "
        "scores) and the models found under PATHs (default: the current folder): checkpoint folders (moodscape.json) "
        "and folders of exported ONNX files, with kind, whether the song value is fused with the descriptor floor, "
        "and size.",
    )
    models.add_argument("paths", type=Path, nargs="*", help="folders to search (default: .)")
    models.add_argument("--depth", type=positive_int, default=5, help="how deep to search (default 5)")
    models.set_defaults(func=_cmd_models)
