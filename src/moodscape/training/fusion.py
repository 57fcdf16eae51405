"""``moodscape fuse``: an equal-weight fusion fitted onto a trained run.

The descriptor floor and, by default, the musicnn probe are fitted on the run's training and validation
songs (the validation songs chose only the network's epoch) and averaged with the network, each member
weighing the same. No weight is chosen on songs: on 4q-dev this fixed average of the musicnn teacher, the
probe and the floor beat the teacher alone on four folds of five and tied on the fifth (BENCHMARKS.md).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from ..audio.descriptors import descriptor_names, store_descriptors
from ..config import load_config
from ..errors import CheckpointError, ConfigError
from ..features.prepare import prepare_data
from ..models.floors.descriptors import DescriptorFloor
from ..models.floors.fusion import FUSION_DIR, Fusion
from ..models.floors.probe import MusicnnProbe, store_summaries

log = logging.getLogger(__name__)


def equal_fusion(store, songs, *, descriptor_rate: int | None, seed: int, probe: bool = True, progress: bool = True,
                 meta: dict | None = None) -> Fusion:  # fmt: skip
    """The descriptor floor (reading audio at ``descriptor_rate``; None: the store's) and, with ``probe``, the musicnn
    probe, fitted on ``songs`` of ``store``, in an equal-weight fusion with the network: what ``moodscape fuse`` saves
    and what training with ``fusion_rule=equal`` fits on the training songs."""
    songs = list(songs)
    labels = store.labels(songs)
    rate = descriptor_rate
    floor = DescriptorFloor(seed=seed, sample_rate=rate).fit(
        store_descriptors(store, songs, sample_rate=rate, progress=progress), labels, names=descriptor_names())
    fitted_probe = None
    if probe:
        fitted_probe = MusicnnProbe(resampler=store.features.resampler).fit(store_summaries(store, songs, progress=progress),
                                                                            labels)  # fmt: skip
    return Fusion.equal(floor, fitted_probe, meta={"rule": "equal", "songs": len(songs), "store": str(store.directory),
                                                   **(meta or {})})  # fmt: skip


def fuse_run(run_dir: str | Path, *, probe: bool = True, progress: bool = True) -> Fusion:
    """Fit the members on ``run_dir``'s training and validation songs and save the fusion in ``run_dir/best/fusion``
    (replacing one that is there), where evaluate, export and predict find it."""
    run_dir = Path(run_dir)
    best = run_dir / "best"
    if not (run_dir / "config.yaml").is_file() or not best.is_dir():
        raise CheckpointError(f"{run_dir} is not a trained run (config.yaml and best/ needed); train one with "
                              "`moodscape train` or give the folder `moodscape distill` wrote")  # fmt: skip
    config = load_config(run_dir / "config.yaml")
    prepared = prepare_data(config, progress=progress)
    store, splits = prepared.store, prepared.splits
    songs = [*splits.train, *splits.val]
    try:
        fusion = equal_fusion(store, songs, descriptor_rate=config.baseline.descriptor_sample_rate, seed=config.seed,
                              probe=probe, progress=progress)  # fmt: skip
    except ConfigError as exc:
        if not probe:
            raise
        raise ConfigError(f"{exc}; or fuse without the probe: moodscape fuse {run_dir} --no-probe") from exc
    target = best / FUSION_DIR
    if target.exists():
        log.warning("%s: replacing the fusion that was there", target)
        shutil.rmtree(target)
    fusion.save(target)
    log.info("fused %s with the descriptor floor%s, equal weights, fitted on %d songs", best,
             " and the musicnn probe" if probe else "", len(songs))  # fmt: skip
    return fusion
