"""``heplearn calib train``: features → split → scalers → BDT baseline → network, in one folder.

The split is by event (both clusters of a Z→ee event together), a seeded hash
of the event id (:mod:`heplearn.data.splits`), so ``calib evaluate`` on the
training store, or on any copy of it, takes exactly the held-out test rows.
The run records the store's fingerprint and the content keys of the training
and validation clusters (:mod:`heplearn.data.held_out`).
A killed run resumes with ``resume=True`` from its last complete epoch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from heplearn import __version__
from heplearn.calib.bdt import BdtModel, load_bdt, train_bdt
from heplearn.calib.cluster_sets import cluster_keys, mislabel_mask, split_indices
from heplearn.calib.features import FeatureArrays, load_features
from heplearn.calib.input_coverage import InputRanges
from heplearn.calib.inputs import InputShapes
from heplearn.calib.models import build_model
from heplearn.calib.models.blocks import OutputHead
from heplearn.calib.objective import calib_forward, calib_objective
from heplearn.calib.resolution_metrics import eiqr, reiqr
from heplearn.calib.run_folder import RunFolder
from heplearn.calib.run_staging import publish_run, resume_source, run_lock, start_run
from heplearn.calib.scalers import ScalerSet
from heplearn.calib.targets import energy_from_target, make_target
from heplearn.calib.train_config import CalibTrainConfig
from heplearn.calib.z_mass_labels import label_check, reference_energies, z_mass_labels
from heplearn.config import config_to_dict, dump_config
from heplearn.data.held_out import record_training
from heplearn.data.reader import open_store
from heplearn.errors import ConfigError, DataError
from heplearn.report.metrics_json import write_metrics_json
from heplearn.training import TensorSet, TrainResult, fit, predict, seed_everything

__all__ = [
    "EpochHook",
    "TrainSummary",
    "network_config",
    "network_tensors",
    "prepare_split",
    "start_at_target",
    "train_calib",
    "validation_metrics",
]

#: Called after each network epoch with the epoch and the validation eIQR of its weights.
EpochHook = Callable[[int, float], None]


@dataclass(frozen=True)
class TrainSummary:
    """What a finished training reports."""

    folder: Path
    n_train: int
    n_val: int
    n_test: int
    bdt_val_loss: float | None
    network: TrainResult | None


@dataclass(frozen=True)
class Split:
    """The clusters of one store after the mislabel cut, and the row indices of each split."""

    features: FeatureArrays
    rows: np.ndarray[Any, Any]  # store row of each kept cluster
    train: np.ndarray[Any, Any]
    val: np.ndarray[Any, Any]
    test: np.ndarray[Any, Any]
    removed: int
    label: np.ndarray[Any, Any]  # the energy the target is made of: E_truth, or E_label on data
    labelling: dict[str, Any] | None = None  # Z-mass labels: pairs, clusters dropped, check

    def labelled(self) -> FeatureArrays:
        """The clusters with E_truth replaced by the training label (what the models fit)."""
        return dataclasses.replace(self.features, e_truth=self.label)


def _z_mass_label(
    config: CalibTrainConfig, data: Path, features: FeatureArrays, where: str
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], dict[str, Any]]:
    """(store rows, E_label, summary): only clusters of a selected Z→ee pair keep a label."""
    assert config.data_training is not None
    store = open_store(data)
    reference = reference_energies(store, features.e_acc, config.data_training, where)
    labels = z_mass_labels(store, reference, config.data_training, where)
    check = label_check(labels.energy, features.e_truth[labels.rows])
    summary = {
        "label": config.data_training.label,
        "reference": config.data_training.reference,
        "pairs": labels.pairs,
        "unpaired_dropped": labels.unpaired,
        "label_over_truth": check,
    }
    return labels.rows, labels.energy, summary


def prepare_split(config: CalibTrainConfig, data: Path, where: str) -> Split:
    """Read the store and split it exactly as the run did (same config ⇒ same rows)."""
    on_data = config.data_training is not None
    features = load_features(data, config.features, where, require_truth=not on_data)
    if config.max_events is not None:
        features = features.take(np.arange(min(config.max_events, len(features))))
    base, label, labelling = np.arange(len(features)), features.e_truth, None
    if on_data:
        base, label, labelling = _z_mass_label(config, data, features, where)
        features = features.take(base)
    keep = mislabel_mask(dataclasses.replace(features, e_truth=label), config.features.mislabel_cut)
    kept, removed = np.flatnonzero(keep), int((~keep).sum())
    features, label, rows = features.take(kept), label[kept], base[kept]
    if len(features) < 10:
        raise DataError(
            "too few clusters",
            where,
            f"{len(features)} pass the mislabel cut {config.features.mislabel_cut}",
            "use a larger sample or loosen features.mislabel_cut",
        )
    train, val, test = split_indices(
        len(features), config.split, config.split_seed, groups=features.event_id
    )
    if len(train) == 0 or (len(val) == 0 and config.split[1] > 0):
        raise DataError(
            "too few events to split",
            where,
            f"{len(np.unique(features.event_id))} events give {len(train)} training and "
            f"{len(val)} validation clusters with fractions {list(config.split)}",
            "use a larger sample",
        )
    return Split(features, rows, train, val, test, removed, label, labelling)


def shapes_of(features: FeatureArrays) -> InputShapes:
    _, channels, height, width = features.images.shape
    tracks = features.tracks.shape[1:] if features.tracks.size else (0, 0)
    return InputShapes(
        image=(int(channels), int(height), int(width)),
        scalars=int(features.scalars.shape[1]),
        tracks=(int(tracks[0]), int(tracks[1])),
    )


def network_config(config: CalibTrainConfig) -> Any:
    """The network config (DeepCalo or scouting CNN), with the uncertainty head the loss needs."""
    if config.network == "scouting-cnn":
        return dataclasses.replace(config.scouting_cnn, uncertainty=config.uncertainty)
    return config.deepcalo_config()


def network_tensors(
    features: FeatureArrays, scalers: ScalerSet, target: np.ndarray[Any, Any] | None = None
) -> TensorSet:
    """Scaled model inputs (and target, weight) as tensors."""
    scaled = scalers.transform(features)
    n = len(features)
    tracks = scaled.tracks if scaled.tracks.size else np.zeros((n, 0, 0), np.float32)
    arrays = {
        "images": scaled.images.astype(np.float32, copy=False),
        "scalars": scaled.scalars.astype(np.float32, copy=False),
        "tracks": tracks.astype(np.float32, copy=False),
        "weight": features.weights.astype(np.float32),
    }
    if target is not None:
        arrays["target"] = target.astype(np.float32)
    return TensorSet.from_numpy(arrays).channels_last()


def start_at_target(model: torch.nn.Module, target: np.ndarray[Any, Any]) -> None:
    """Start every output head at the target's median and robust variance (eIQR²)."""
    centre, spread = float(np.median(target)), max(eiqr(target), 1e-6)
    for module in model.modules():
        if isinstance(module, OutputHead):
            module.start_at(centre, float(np.log(spread**2)))


def _train_bdt(config: CalibTrainConfig, split: Split, target: np.ndarray[Any, Any]) -> BdtModel:
    assert config.bdt is not None
    x = split.features.scalars
    w = split.features.weights
    return train_bdt(
        config.bdt,
        x[split.train],
        target[split.train],
        x[split.val],
        target[split.val],
        w[split.train],
        w[split.val],
        feature_names=split.features.scalar_names,
    )


def train_calib(
    config: CalibTrainConfig,
    data: str | Path,
    out: str | Path,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = False,
    where: str = "the calib-train config",
    on_epoch: EpochHook | None = None,
) -> TrainSummary:
    """Train the BDT baseline and the configured network on the store ``data`` into ``out``.

    A second run into the same ``out`` while this one runs fails at once (OutputLockedError).
    The run ends with ``validation.json``: the eIQR of each method on the validation split
    (what ``calib study`` optimises; the test split stays untouched).  ``on_epoch`` gets the
    validation eIQR of every epoch's network (one more pass over the validation split each);
    an exception it raises stops the run, leaving its resumable partial folder.
    """
    with run_lock(Path(out)):
        return _train_locked(
            config,
            Path(data),
            Path(out),
            resume=resume,
            overwrite=overwrite,
            progress=progress,
            where=where,
            on_epoch=on_epoch,
        )


def _relative(
    config: CalibTrainConfig, features: FeatureArrays, target: np.ndarray[Any, Any]
) -> np.ndarray[Any, Any]:
    """E/E_truth of predicted targets."""
    energy = energy_from_target(target, features.e_acc, config.target)
    return np.asarray(energy / features.e_truth.astype(np.float64))


def _network_target(model: torch.nn.Module, tensors: TensorSet) -> np.ndarray[Any, Any]:
    out = predict(model, tensors, calib_forward).numpy()
    return np.asarray(out[:, 0], dtype=np.float64)


def validation_metrics(
    config: CalibTrainConfig,
    features: FeatureArrays,
    *,
    bdt: BdtModel | None,
    network: np.ndarray[Any, Any] | None,
) -> dict[str, Any]:
    """eIQR (68 % and 95 % analogues) of E/E_truth per method on the validation clusters.

    ``network`` is the network's predicted target per cluster.  ``objective`` is the
    network's eIQR (the BDT's without a network): the number ``calib study`` minimises.
    """
    re = {"e_acc": features.e_acc.astype(np.float64) / features.e_truth.astype(np.float64)}
    if bdt is not None:
        re["bdt"] = _relative(config, features, bdt.predict(features.scalars))
    if network is not None:
        re["network"] = _relative(config, features, network)
    out: dict[str, Any] = {
        "split": "validation",
        "clusters": len(features),
        "eiqr": {name: eiqr(values) for name, values in re.items()},
        "eiqr95": {name: eiqr(values, 0.95) for name, values in re.items()},
        "reiqr75_vs_bdt": None,
        "reiqr95_vs_bdt": None,
    }
    if "network" in re and "bdt" in re:
        out["reiqr75_vs_bdt"] = reiqr(re["network"], re["bdt"])
        out["reiqr95_vs_bdt"] = reiqr(re["network"], re["bdt"], 0.95)
    best = "network" if "network" in re else "bdt" if "bdt" in re else "e_acc"
    out["objective"] = {"method": best, "eiqr": out["eiqr"][best]}
    return out


def _keep_transform(config: CalibTrainConfig, folder: RunFolder) -> None:
    """Copy the features.mc_to_data transform into the run (evaluation reads the copy)."""
    source = config.features.mc_to_data
    if source is None:
        return
    text = Path(source).read_bytes()
    copy = folder.mc_to_data
    if copy.is_file() and copy.read_bytes() != text:
        raise ConfigError(
            "changed MC-to-data transform on resume",
            source,
            f"it differs from the run's copy {copy}",
            "resume with the transform the run was started with, or start a new run",
        )
    copy.write_bytes(text)


def _train_locked(
    config: CalibTrainConfig,
    data: Path,
    final: Path,
    *,
    resume: bool,
    overwrite: bool,
    progress: bool,
    where: str,
    on_epoch: EpochHook | None,
) -> TrainSummary:
    if resume:
        resume_source(final).check_resume(config_to_dict(config), data)
    # The input first: a store that cannot be read leaves no folder behind.
    split = prepare_split(config, data, str(data))
    # Trained in .NAME.partial and renamed at the end: --out holds a whole run or none.
    folder = start_run(final, resume=resume, overwrite=overwrite)
    features = split.labelled()  # E_truth, or the Z-mass label when training on data
    target = make_target(features.e_truth, features.e_acc, config.target)
    folder.config.write_text(dump_config(config))
    _keep_transform(config, folder)
    shapes = shapes_of(features)
    seen = np.concatenate([split.train, split.val])
    identity = record_training(data, cluster_keys(features)[seen], folder.path)
    folder.write_json(
        folder.info,
        {
            **identity,
            "rows": len(features) + split.removed,
            "mislabel_removed": split.removed,
            **({"data_training": split.labelling} if split.labelling is not None else {}),
            "split": {"train": len(split.train), "val": len(split.val), "test": len(split.test)},
            "shapes": {"image": shapes.image, "scalars": shapes.scalars, "tracks": shapes.tracks},
            "scalar_names": list(features.scalar_names),
            "channel_names": list(features.channel_names),
            "heplearn": __version__,
        },
    )
    scalers = ScalerSet.fit(features.take(split.train), config.features)
    scalers.save(folder.scalers, overwrite=True)
    train_scalars = features.scalars[split.train]
    InputRanges.fit(features.scalar_names, train_scalars).save(folder.input_ranges, overwrite=True)
    bdt_loss, bdt = None, None
    if config.bdt is not None:
        if not (resume and folder.bdt.is_file()):
            _train_bdt(config, split, target).save(folder.bdt, overwrite=True)
        bdt = load_bdt(folder.bdt)
        bdt_loss = bdt.best_score
    result, network = None, None
    val_features = features.take(split.val)
    if config.network != "none":
        seed_everything(config.trainer.seed)  # the initial weights, not only the shuffling
        model = build_model(network_config(config), shapes, where=where)
        start_at_target(model, target[split.train])
        # Scaled per split, so a 500k-cluster store never holds two scaled copies at once.
        train_set = network_tensors(features.take(split.train), scalers, target[split.train])
        val_set = network_tensors(val_features, scalers, target[split.val])
        hook: Callable[[int], None] | None = None
        if on_epoch is not None:
            report = on_epoch

            def each_epoch(epoch: int) -> None:
                values = _relative(config, val_features, _network_target(model, val_set))
                report(epoch, eiqr(values))

            hook = each_epoch

        result = fit(
            model,
            calib_objective(config.loss, **config.loss_options),
            (train_set, val_set),
            config.trainer,
            folder.network,
            resume=resume and (folder.network / "last.pt").is_file(),
            progress=progress,
            val_objective=calib_objective(
                config.validation_loss,
                **(config.loss_options if config.validation_loss == config.loss else {}),
            ),
            on_epoch=hook,
        )
        network = _network_target(model, val_set)  # the best epoch's weights
    write_metrics_json(
        folder.validation,
        validation_metrics(config, val_features, bdt=bdt, network=network),
        overwrite=True,
    )
    if result is not None and config.uncertainty:
        # calibrated.py imports this module: the fit that loads the trained run comes late.
        from heplearn.calib.sigma_scale_fit import write_sigma_scale

        write_sigma_scale(folder.path, features.take(split.val), f"validation split of {data}")
    publish_run(folder, final)
    return TrainSummary(final, len(split.train), len(split.val), len(split.test), bdt_loss, result)
