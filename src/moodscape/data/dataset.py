"""Layout detection and :func:`load_dataset`, which hands each layout to its loader.

Every loader (:mod:`.deam`, :mod:`.emomusic`, :mod:`.csvfile`) reads its own files with the helpers in
:mod:`.tables` and builds the same :class:`~moodscape.data.corpus.Dataset` (see :mod:`.corpus` for the
conventions all loaders share); downstream code sees only that and its
:class:`~moodscape.data.records.SongRecord` items.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from .corpus import Dataset
from .csvfile import load_csv
from .deam import load_deam
from .emomusic import load_emomusic

__all__ = ["LAYOUTS", "Dataset", "detect_layout", "load_dataset"]

LAYOUTS = ("auto", "deam", "emomusic", "csv")


def detect_layout(root: str | Path) -> str:
    """Name the layout at ``root`` (``"deam"``, ``"emomusic"``, ``"csv"``); DataError if none fits."""
    root = Path(root).expanduser()
    if root.is_file():
        if root.suffix.lower() == ".csv":
            return "csv"
        raise DataError(
            f"{root}: a file, but not a .csv; give a dataset folder (DEAM or emoMusic layout) "
            "or a CSV with columns path,valence,arousal or path,quadrant"
        )
    if not root.is_dir():
        raise DataError(f"{root}: no such file or folder; set data.root to a dataset folder or a labels CSV")
    if (
        (root / "DEAM_audio").is_dir()
        or (root / "DEAM_Annotations").is_dir()
        or (root / "MEMD_audio").is_dir()
        or root.name == "MEMD_audio"
    ):
        return "deam"
    if (root / "clips_45seconds").is_dir() and (root / "annotations" / "static_annotations.csv").is_file():
        return "emomusic"
    raise DataError(
        f"{root}: cannot tell the dataset layout. Looked for: DEAM_audio/, DEAM_Annotations/ or "
        "MEMD_audio/ (DEAM); clips_45seconds/ with annotations/static_annotations.csv (emoMusic); "
        "a .csv file given as the root (your own data). Valid layouts: "
        f"{', '.join(LAYOUTS)}. Set data.layout explicitly, or point data.root at one of these."
    )


def load_dataset(
    root: str | Path,
    *,
    layout: str = "auto",
    csv_scale: str = "1-9",
    annotations: str | Path | None = None,
) -> Dataset:
    """Load any supported layout into a :class:`Dataset`.

    Args:
        root: a DEAM folder (or its ``MEMD_audio`` folder), an emoMusic folder, or a labels CSV.
        layout: ``"auto"`` (detect), ``"deam"``, ``"emomusic"`` or ``"csv"``.
        csv_scale: scale of the valence/arousal columns of a labels CSV (``"1-9"``, ``"0-1"``,
            ``"-1-1"``); ignored by the corpus layouts, whose scale is fixed.
        annotations: DEAM only: where the annotations are when they are not next to the audio
            (see :func:`moodscape.data.deam.load_deam`).
    """
    if layout not in LAYOUTS:
        raise DataError(f"unknown data.layout '{layout}'; valid layouts: {', '.join(LAYOUTS)}")
    root = Path(root).expanduser()
    if layout == "auto":
        layout = detect_layout(root)
    if annotations is not None and layout != "deam":
        raise DataError(f"--annotations (data.annotations) is only used by the DEAM layout, not by '{layout}'")
    if layout == "deam":
        return load_deam(root, annotations=annotations)
    if layout == "emomusic":
        return load_emomusic(root)
    return load_csv(root, scale=csv_scale)
