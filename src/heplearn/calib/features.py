"""What a calibration model reads from a store: images, scalars, tracks and the labels.

Images: every chosen layer up-sampled onto the common grid
(:mod:`heplearn.calib.upsampling`), channels-first (N, C, η, φ); with
``time_gate`` the ``time/<layer>`` images follow as extra channels (repeated,
not divided: a time is not an energy).

Scalars: by default the variables of DeepCalo thesis Table 3.3 that the
simulation defines, under our names (:data:`DEEPCALO_SCALARS`): E_acc →
``e_acc``, η_index → ``eta_index``, f0 → ``f0``, R12 → ``r12``, p_T^track →
``pt_track``, η → ``eta``, Δφ2 → ``delta_phi2``, Δη2 → ``delta_eta2``, poscs2 and
η_ModCalo (the same information here) → ``pos_in_cell``, Δφ_TH3 →
``delta_phi_th3``, ⟨μ⟩ → ``mu``, n_tracks → ``n_tracks``, n_vertexReco →
``n_vertex``; plus ``sigma_ieta_ieta`` (the design asks for σiηiη).  E_TG3 and
E_tile-gap are not simulated.  ``phi`` is left out: the detector is
φ-symmetric, and a network given φ would learn the gain map of one detector
seed; ``delta_phi_th3`` carries the position inside the cell.

Tracks: ``tracks/features`` (T, F), zero-padded beyond ``tracks/count``.

Labels: E_acc (``scalars/e_acc``), E_truth (``truth/energy``), the cluster η
(``scalars/eta``, defined in data too), E_T = E_truth / cosh η, ⟨μ⟩, event id,
pdgid, weights.  The mislabel cut (:func:`apply_mislabel_cut`, thesis eq. 3.4)
is separate: apply it to the training and validation splits, not to the test
split one reports on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from heplearn.calib.quantile_mapping import MappingTransform, load_transform
from heplearn.calib.upsampling import image_layers, plan_for_store, store_geometry
from heplearn.config import register_config, setting
from heplearn.data.reader import Store, open_store
from heplearn.errors import ConfigError, DataError, SchemaError

__all__ = [
    "CHARGE_ODD_SCALARS",
    "DEEPCALO_SCALARS",
    "FeatureArrays",
    "FeatureConfig",
    "load_features",
]

Array = np.ndarray[Any, Any]

#: DeepCalo thesis Table 3.3 in our names (see the module docstring), plus σiηiη.
DEEPCALO_SCALARS: tuple[str, ...] = (
    "e_acc",
    "eta",
    "eta_index",
    "f0",
    "r12",
    "pos_in_cell",
    "delta_phi_th3",
    "pt_track",
    "delta_eta2",
    "delta_phi2",
    "n_tracks",
    "mu",
    "n_vertex",
    "sigma_ieta_ieta",
)

#: Scalars that change sign with the particle's charge (Δφ between the cluster and the
#: extrapolated track bends the other way for e⁺); ``charge_symmetric`` feeds q·x instead.
CHARGE_ODD_SCALARS: tuple[str, ...] = ("delta_phi2",)
#: Column of tracks/features holding q·pT.
TRACK_SIGNED_PT = 0

#: Fields every calibration store must have (the labels and the binning variables).
_LABELS = ("truth/energy", "scalars/e_acc", "scalars/eta", "event/id")


@register_config("calib-features")
@dataclass(frozen=True)
class FeatureConfig:
    """Which inputs a calibration model gets, the mislabel cut and how scalers are fitted."""

    layers: tuple[str, ...] = setting((), doc="image layers (images/<layer>); empty: all present")
    time_gate: bool = setting(False, doc="add the time/<layer> images as gate channels")
    scalars: tuple[str, ...] = setting(DEEPCALO_SCALARS, doc="scalars/<name> fields fed")
    tracks: bool = setting(True, doc="feed tracks/features")
    mislabel_cut: tuple[float, float] | None = setting(
        (0.4, 1.6), low=0.0, doc="keep lo < E_acc/E_truth < hi for training; null: keep all"
    )
    quantile_scalars: tuple[str, ...] | None = setting(
        None,
        doc="scalars given the quantile transform; null: the heavy-tailed ones (see scalers)",
    )
    skew_threshold: float = setting(2.0, low=0.0, high=100.0, doc="|skewness| of a heavy tail")
    kurtosis_threshold: float = setting(
        10.0, low=0.0, high=10_000.0, doc="excess kurtosis of heavy tails on both sides"
    )
    quantile_output: Literal["normal", "uniform"] = "normal"
    n_quantiles: int = setting(1000, low=10, high=100_000, doc="quantiles of the transform")
    charge_symmetric: bool = setting(
        True,
        doc="feed q·x for the charge-odd scalars (CHARGE_ODD_SCALARS) and q·(q_track·pT) for "
        "the tracks, q the charge of the best-matched track (no track: +1); false: raw",
    )
    mc_to_data: str | None = setting(
        None,
        doc="a transform written by 'calib compare' (mc_to_data_*.json): the scalars of "
        "simulation (stores with truth/energy) are mapped to the data's distributions before "
        "they are fed; stores without truth (data) are read as they are",
    )
    image_scaling: Literal["none", "robust", "per-event"] = setting(
        "per-event",
        doc="per-event (best measured): energy channels divided by the cluster's E_acc "
        "(E_acc stays a scalar); none: GeV and ns as DeepCalo; robust: a per-channel scale",
    )

    def validate(self, where: str) -> None:
        if self.mislabel_cut is not None and not self.mislabel_cut[0] < self.mislabel_cut[1]:
            raise ConfigError(
                "field 'mislabel_cut'",
                where,
                f"{list(self.mislabel_cut)} is not [low, high] with low < high",
                "give e.g. [0.4, 1.6] or null",
            )
        if self.quantile_scalars is not None:
            unknown = sorted(set(self.quantile_scalars) - set(self.scalars))
            if unknown:
                raise ConfigError(
                    "field 'quantile_scalars'",
                    where,
                    f"{', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not in 'scalars'",
                    "list only scalars that are fed",
                )


@dataclass(frozen=True)
class FeatureArrays:
    """Model inputs and labels of N clusters (row i of every array is cluster i)."""

    images: Array  # (N, C, H, W) float32, channels-first
    scalars: Array  # (N, S) float32
    tracks: Array  # (N, T, F) float32, zero-padded; (N, 0, 0) when tracks are off
    track_count: Array  # (N,) int32, tracks before the padding
    e_acc: Array  # (N,) float64 [GeV], the baseline energy
    e_truth: Array  # (N,) float64 [GeV]
    eta: Array  # (N,) float64, cluster η
    et: Array  # (N,) float64 [GeV], E_truth / cosh η
    mu: Array  # (N,) float64, ⟨μ⟩
    event_id: Array  # (N,) int64, shared by the clusters of one event
    pdgid: Array  # (N,) int32 (0 where the store has no truth/pdgid)
    weights: Array  # (N,) float64, event weights (1 where the store has none)
    scalar_names: tuple[str, ...]
    channel_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.e_acc)

    def take(self, index: Array) -> FeatureArrays:
        """The clusters at ``index`` (integer indices or a boolean mask), as new arrays."""
        arrays = {
            f.name: getattr(self, f.name)[index]
            for f in dataclasses.fields(self)
            if isinstance(getattr(self, f.name), np.ndarray)
        }
        return dataclasses.replace(self, **arrays)


def _missing(
    store: Store, fields: Sequence[str], what: str, group: str, *, fix: str, where: str
) -> None:
    """SchemaError naming the absent ``fields`` and the ``group`` fields the store has."""
    absent = [name for name in fields if name not in store.schema]
    if not absent:
        return
    have = sorted(n.removeprefix(group) for n in store.schema if n.startswith(group))
    raise SchemaError(
        f"missing {what} {', '.join(n.removeprefix(group) for n in absent)}",
        where,
        f"the store has {group}{{{', '.join(have)}}}" if have else f"the store has no {group}*",
        fix,
    )


def _fields(
    store: Store, config: FeatureConfig, where: str, require_truth: bool = True
) -> tuple[list[str], list[str], list[str]]:
    """(layers, input fields, label fields), after checking the store has them."""
    if store.rows == 0:
        raise DataError("empty store", where, "it has no events", "generate or import some events")
    layers = list(config.layers) or image_layers(store, store_geometry(store))
    if not layers:
        raise SchemaError(
            "no images",
            where,
            "the store has no images/* field",
            "use a calibration store (heplearn generate calib) or map the cell windows",
        )
    images = [f"images/{name}" for name in layers]
    _missing(
        store, images, "image layers", "images/", fix="set 'layers' to some of those", where=where
    )
    inputs = list(images)
    if config.time_gate:
        times = [f"time/{name}" for name in layers]
        _missing(
            store,
            times,
            "time images",
            "time/",
            fix="regenerate with 'time_images: true' or set 'time_gate: false'",
            where=where,
        )
        inputs += times
    scalars = [f"scalars/{name}" for name in config.scalars]
    _missing(
        store, scalars, "scalars", "scalars/", fix="set 'scalars' to some of those", where=where
    )
    inputs += scalars
    if config.tracks or _needs_charge(config):
        tracks = ["tracks/features", "tracks/count"]
        fix = "set 'tracks: false' and 'charge_symmetric: false' (raw charge-odd scalars)"
        _missing(store, tracks, "tracks", "tracks/", fix=fix, where=where)
        inputs += tracks
    # Data-driven methods run on stores without truth (real data, pseudo-data).
    needed = _LABELS if require_truth else tuple(n for n in _LABELS if n != "truth/energy")
    absent = [name for name in needed if name not in store.schema]
    if absent:
        raise SchemaError(
            f"missing label field{'s' if len(absent) > 1 else ''} {', '.join(absent)}",
            where,
            "a calibration store needs the truth energy, E_acc, the cluster η and the event id",
            "map them with 'heplearn data import --mapping'",
        )
    candidates = ("truth/energy", "truth/pdgid", "event/weight", _mu_field(store))
    optional = [n for n in candidates if n in store.schema]
    labels = [n for n in dict.fromkeys((*needed, *optional)) if n not in inputs]
    return layers, inputs, labels


def _mu_field(store: Store) -> str:
    # event/mu is the generator's ⟨μ⟩; imported stores may only carry the scalar.
    return "event/mu" if "event/mu" in store.schema else "scalars/mu"


def _allocate(
    store: Store, config: FeatureConfig, n_channels: int, grid: tuple[int, int]
) -> dict[str, Array]:
    n = store.rows
    if config.tracks:
        n_tracks, n_features = store.schema["tracks/features"].shape
    else:
        n_tracks, n_features = 0, 0
    return {
        "images": np.zeros((n, n_channels, *grid), np.float32),
        "scalars": np.zeros((n, len(config.scalars)), np.float32),
        "tracks": np.zeros((n, n_tracks, n_features), np.float32),
        "track_count": np.zeros(n, np.int32),
        "e_acc": np.zeros(n),
        "e_truth": np.zeros(n),
        "eta": np.zeros(n),
        "mu": np.zeros(n),
        "event_id": np.zeros(n, np.int64),
        "pdgid": np.zeros(n, np.int32),
        "weights": np.ones(n),
    }


def _bad_rows(values: Array) -> int:
    """Events with at least one NaN/inf value."""
    finite = np.isfinite(values.reshape(len(values), -1)).all(axis=1)
    return int((~finite).sum())


def _fill_scalars_and_tracks(
    out: dict[str, Array],
    rows: slice,
    batch: dict[str, Any],
    config: FeatureConfig,
    transform: MappingTransform | None,
) -> None:
    charge = _cluster_charge(batch) if _needs_charge(config) else None
    scalars = {name: batch[f"scalars/{name}"] for name in config.scalars}
    if transform is not None:
        # The kinematics of a conditional map are always read, fed or not.
        kinematics = {name: batch[f"scalars/{name}"] for name in ("e_acc", "eta")}
        scalars = transform.apply({**kinematics, **scalars}, batch["event/id"])
    for s, name in enumerate(config.scalars):
        out["scalars"][rows, s] = scalars[name]
        if charge is not None and name in CHARGE_ODD_SCALARS:
            out["scalars"][rows, s] *= charge
    if config.tracks:
        out["tracks"][rows] = batch["tracks/features"]
        out["track_count"][rows] = batch["tracks/count"]
        if charge is not None:
            out["tracks"][rows, :, TRACK_SIGNED_PT] *= charge[:, None]


def _needs_charge(config: FeatureConfig) -> bool:
    """Symmetrised inputs need each cluster's charge: for the tracks or a charge-odd scalar."""
    odd = any(name in CHARGE_ODD_SCALARS for name in config.scalars)
    return config.charge_symmetric and (config.tracks or odd)


def _cluster_charge(batch: dict[str, Any]) -> Array:
    """±1: the sign of the best-matched (first) track's q·pT; +1 without a track."""
    signed = np.asarray(batch["tracks/features"])[:, 0, TRACK_SIGNED_PT]
    count = np.asarray(batch["tracks/count"])
    charge: Array = np.where((count > 0) & (signed < 0), -1.0, 1.0).astype(np.float32)
    return charge


def load_features(
    source: str | Path | Store,
    config: FeatureConfig | None = None,
    where: str | None = None,
    *,
    batch_size: int = 16_384,
    require_truth: bool = True,
) -> FeatureArrays:
    """Read a calibration store batch by batch into model-ready arrays.

    ``where`` names the store in errors (default: its path).  Raises SchemaError
    for missing fields (naming what the store has), DataError for an empty store
    or NaN/inf in any field read (naming the field and the number of events).  With
    ``require_truth=False`` a store without ``truth/energy`` loads with E_truth = NaN.
    """
    config = config or FeatureConfig()
    store = source if isinstance(source, Store) else open_store(source)
    where = where or str(store.path)
    layers, inputs, labels = _fields(store, config, where, require_truth)
    plan = plan_for_store(store, layers)
    channels = [*layers, *(f"time/{name}" for name in layers if config.time_gate)]
    out = _allocate(store, config, len(channels), plan.grid)
    # MC scalars mapped to data (histogram equalisation); a store without truth is data.
    transform = None
    if config.mc_to_data is not None and "truth/energy" in store.schema:
        transform = load_transform(config.mc_to_data)
    if "truth/energy" not in labels:
        out["e_truth"][:] = np.nan
    mu_field = _mu_field(store)
    bad = dict.fromkeys(inputs + labels, 0)
    start = 0
    for batch in store.iter_batches(batch_size, fields=inputs + labels):
        stop = start + len(batch["scalars/e_acc"])
        rows = slice(start, stop)
        for name in bad:
            column = np.asarray(batch[name])
            if column.dtype.kind == "f":
                bad[name] += _bad_rows(column)
        for c, name in enumerate(layers):
            out["images"][rows, c] = plan.upsample(name, batch[f"images/{name}"])
            if config.time_gate:
                time = batch[f"time/{name}"]
                out["images"][rows, len(layers) + c] = plan.upsample(name, time, conserve=False)
        _fill_scalars_and_tracks(out, rows, batch, config, transform)
        out["e_acc"][rows] = batch["scalars/e_acc"]
        if "truth/energy" in batch:
            out["e_truth"][rows] = batch["truth/energy"]
        out["eta"][rows] = batch["scalars/eta"]
        out["event_id"][rows] = batch["event/id"]
        optional = (("pdgid", "truth/pdgid"), ("weights", "event/weight"), ("mu", mu_field))
        for key, name in optional:
            if name in batch:
                out[key][rows] = batch[name]
        start = stop
    counted = {name: n for name, n in bad.items() if n}
    if counted:
        listed = ", ".join(
            f"{name} ({n} event{'s' if n > 1 else ''})" for name, n in sorted(counted.items())
        )
        raise DataError(
            "NaN/inf values",
            where,
            f"found in {listed} of {store.rows}",
            "drop or fix those events (e.g. re-import without --allow-nan) and retry",
        )
    return FeatureArrays(
        **out,
        et=out["e_truth"] / np.cosh(out["eta"]),
        scalar_names=tuple(config.scalars),
        channel_names=tuple(channels),
    )
