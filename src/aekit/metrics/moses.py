"""The MOSES metrics of generated molecules (Polykovskiy et al. 2020), computed with RDKit.

Definitions follow the paper and its reference code. ``gen`` is a list of generated
SMILES (invalid ones included); metrics after validity use the valid ones, canonicalised:

* validity: share of ``gen`` that RDKit parses (an empty string is invalid);
* unique@k: distinct canonical SMILES among the first k valid molecules, over k;
* novelty: share of the distinct valid molecules that are not in the training set;
* IntDiv_p: 1 - mean_i (mean_j T(m_i, m_j)^p)^(1/p) over all pairs of valid molecules
  (i = j included), T the Tanimoto similarity of Morgan fingerprints (radius 2, 1024 bits);
* filters: share of valid molecules passing MOSES' filters (no ring of 8+ atoms, no
  charge, atoms in {C, N, S, O, F, Cl, Br, H}, none of the 22 MCF patterns and no PAINS
  match; PAINS from RDKit's catalogue, the same Baell & Holloway set MOSES ships);
* SNN: mean over valid generated molecules of the highest Tanimoto similarity to a
  reference molecule;
* Frag / Scaf: cosine similarity of the count vectors of BRICS fragments / Bemis-Murcko
  scaffolds (with at least 2 rings) in the generated and the reference molecules;
* FCD: Frechet distance between Gaussians fitted to ChemNet's penultimate activations
  (Preuer et al. 2018) of generated and reference molecules; ChemNet's weights come from
  the ``fcd_torch`` wheel and are read with ``torch.load(weights_only=True)``.

Molecule properties (QED, logP, SA score, penalised logP) are here too, as pure
functions of a SMILES string. RDKit and fcd_torch come with ``pip install 'aekit[chem]'``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aekit.data.molecules import _quiet_rdkit, canonical, require
from aekit.errors import ConfigError, DataError
from aekit.metrics.sample_quality import frechet_distance, gaussian_fit

PROPERTIES = ("qed", "logp", "sa", "penalized_logp")
ALLOWED_ATOMS = frozenset({"C", "N", "S", "O", "F", "Cl", "Br", "H"})
# The 22 medicinal-chemistry filters (MCF) of MOSES (moses/metrics/mcf.csv).
MCF_SMARTS = (
    "[#6]=&!@[#6]-[#6]#[#7]", "[#6]=&!@[#6]-[#16](=[#8])=[#8]",
    "[#6]=&!@[#6&!H0]-&!@[#6](=[#8])-&!@[#7]", "[H]C([H])([#6])[F,Cl,Br,I]",
    "[#6]1-[#8]-[#6]-1", "[#6]-[#7]=[#6]=[#8]", "[#6&!H0]=[#8]",
    "[#6](=&!@[#7&!H0])-&!@[#6,#7,#8,#16]", "[#6]1-[#7]-[#6]-1",
    "[#6]~&!@[#7]~&!@[#7]~&!@[#6]", "[#7]=&!@[#7]",
    "[H][#6]-1=[#6]([H])-[#6]=[#6](-*)-[#8]-1", "[H][#6]-1=[#6]([H])-[#6]=[#6](-*)-[#16]-1",
    "[#17,#35,#53]-c(:*):[!#1!#6]:*", "[H][#7]([H])-[#6]-1=[#6]-[#6]=[#6]-[#6]=[#6]-1",
    "[#16]~[#16]", "[#7]~&!@[#7]~&!@[#7]", "[#7]-&!@[#6&!H0&!H1]-&!@[#7]",
    "[#6&!H0](-&!@[#8])-&!@[#8]", "[#35].[#35].[#35]", "[#17].[#17].[#17].[#17]",
    "[#9].[#9].[#9].[#9].[#9].[#9].[#9]",
)


def _mols(smiles: Iterable[str]) -> list[Any]:
    chem = _quiet_rdkit()
    out = []
    for s in smiles:
        mol = chem.MolFromSmiles(s) if s else None
        if mol is None or mol.GetNumAtoms() == 0:
            raise DataError(f"invalid SMILES {s!r}: pass valid molecules (see valid_smiles)")
        out.append(mol)
    return out


def valid_smiles(gen: Iterable[str]) -> list[str]:
    """Canonical SMILES of the valid molecules of ``gen``, in order (duplicates kept)."""
    return [c for c in map(canonical, gen) if c]


def validity(gen: list[str]) -> float:
    """Share of ``gen`` that RDKit parses to a molecule with at least one atom."""
    if not gen:
        raise DataError("validity of an empty list of molecules is undefined")
    return len(valid_smiles(gen)) / len(gen)


def unique_at(gen: list[str], k: int) -> float:
    """unique@k: distinct molecules among the first ``k`` valid ones, over their count
    (over all of them when fewer than ``k`` are valid)."""
    if k < 1:
        raise ConfigError(f"k must be >= 1, got {k}")
    first = valid_smiles(gen)[:k]
    if not first:
        raise DataError("no valid molecule to count")
    return len(set(first)) / len(first)


def novelty(gen: list[str], train: Iterable[str]) -> float:
    """Share of the distinct valid generated molecules not in ``train`` (canonical SMILES)."""
    distinct = set(valid_smiles(gen))
    if not distinct:
        raise DataError("no valid molecule to count")
    return len(distinct - set(train)) / len(distinct)


def fingerprints(smiles: Iterable[str], radius: int = 2, n_bits: int = 1024) -> np.ndarray:
    """Morgan bit fingerprints ``(N, n_bits)`` as uint8 (MOSES: radius 2, 1024 bits)."""
    gen = require("rdkit.Chem.rdFingerprintGenerator").GetMorganGenerator(
        radius=radius, fpSize=n_bits)
    mols = _mols(smiles)
    out = np.zeros((len(mols), n_bits), dtype=np.uint8)
    for i, m in enumerate(mols):
        out[i] = gen.GetFingerprintAsNumPy(m)
    return out


def aggregate_tanimoto(ref: np.ndarray, gen: np.ndarray, agg: str, p: float = 1.0,
                       block: int = 4096, device: str = "cpu") -> np.ndarray:
    """For each generated fingerprint, the max (``agg="max"``) or the power-``p`` mean
    (``agg="mean"``, then to the power 1/p) of its Tanimoto similarities to every
    reference fingerprint; 1 where both are empty (as MOSES). ``(len(gen),)``."""
    if agg not in ("max", "mean"):
        raise ConfigError(f"agg={agg!r} is not one of max, mean")
    g = torch.from_numpy(gen).float().to(device)
    g_count = g.sum(1)
    acc = torch.zeros(len(g), dtype=torch.float64, device=device)
    for j in range(0, len(ref), block):
        r = torch.from_numpy(ref[j:j + block]).float().to(device)
        inter = r @ g.T  # (R, G), exact: counts <= n_bits
        t = inter / (r.sum(1, keepdim=True) + g_count - inter)
        t = torch.nan_to_num(t, nan=1.0).double()
        if agg == "max":
            acc = torch.maximum(acc, t.max(0).values)
        else:
            acc += (t**p).sum(0)
    if agg == "mean":
        acc = (acc / len(ref)) ** (1.0 / p)
    return acc.cpu().numpy()


def internal_diversity(gen: list[str], p: float = 1.0) -> float:
    """IntDiv_p of the valid molecules of ``gen`` (1 - mean power-p Tanimoto similarity)."""
    fps = fingerprints(valid_smiles(gen))
    if len(fps) == 0:
        raise DataError("no valid molecule to compare")
    return float(1.0 - aggregate_tanimoto(fps, fps, "mean", p).mean())


def snn(gen: list[str], ref: list[str] | None = None, *,
        ref_fps: np.ndarray | None = None) -> float:
    """Mean nearest-neighbour Tanimoto similarity of valid generated molecules to ``ref``
    (or precomputed reference fingerprints ``ref_fps``)."""
    if (ref is None) == (ref_fps is None):
        raise ConfigError("pass exactly one of ref and ref_fps")
    ref_fps = fingerprints(ref) if ref_fps is None else ref_fps
    return float(aggregate_tanimoto(ref_fps, fingerprints(valid_smiles(gen)), "max").mean())


def passes_filters(smiles: str) -> bool:
    """True when a molecule passes MOSES' filters (see the module docstring)."""
    chem = _quiet_rdkit()
    mol = chem.MolFromSmiles(smiles) if smiles else None
    if mol is None:
        return False
    if any(len(ring) >= 8 for ring in mol.GetRingInfo().AtomRings()):
        return False
    if any(a.GetFormalCharge() != 0 or a.GetSymbol() not in ALLOWED_ATOMS
           for a in mol.GetAtoms()):
        return False
    patterns, pains = _filters()
    h_mol = chem.AddHs(mol)
    return not (any(h_mol.HasSubstructMatch(p) for p in patterns) or pains.HasMatch(mol))


_FILTERS: tuple[list[Any], Any] | None = None


def _filters() -> tuple[list[Any], Any]:
    global _FILTERS
    if _FILTERS is None:
        chem = _quiet_rdkit()
        fc = require("rdkit.Chem.FilterCatalog")
        params = fc.FilterCatalogParams()
        params.AddCatalog(fc.FilterCatalogParams.FilterCatalogs.PAINS)
        _FILTERS = ([chem.MolFromSmarts(s) for s in MCF_SMARTS], fc.FilterCatalog(params))
    return _FILTERS


def filters(gen: list[str]) -> float:
    """Share of the valid molecules of ``gen`` that pass MOSES' filters."""
    valid = valid_smiles(gen)
    if not valid:
        raise DataError("no valid molecule to filter")
    return float(np.mean([passes_filters(s) for s in valid]))


def molecule_fragments(mol: Any) -> list[str]:
    """The BRICS fragments of one RDKit molecule as canonical SMILES, with repeats; each
    broken bond leaves a dummy atom ``[n*]`` (n its BRICS environment) on both sides."""
    chem = _quiet_rdkit()
    return chem.MolToSmiles(require("rdkit.Chem.BRICS").BreakBRICSBonds(mol)).split(".")


def fragments(smiles: Iterable[str]) -> Counter:
    """Counts of BRICS fragments (canonical SMILES) over molecules."""
    counts: Counter = Counter()
    for m in _mols(smiles):
        counts.update(molecule_fragments(m))
    return counts


def scaffolds(smiles: Iterable[str], min_rings: int = 2) -> Counter:
    """Counts of Bemis-Murcko scaffolds with at least ``min_rings`` rings."""
    chem = _quiet_rdkit()
    murcko = require("rdkit.Chem.Scaffolds.MurckoScaffold")
    counts: Counter = Counter()
    for m in _mols(smiles):
        scaf = murcko.GetScaffoldForMol(m)
        text = chem.MolToSmiles(scaf)
        if text and scaf.GetRingInfo().NumRings() >= min_rings:
            counts[text] += 1
    return counts


def count_cosine(a: Counter, b: Counter) -> float:
    """Cosine similarity of two count vectors indexed by their union of keys (NaN when
    either is empty)."""
    if not a or not b:
        return float("nan")
    keys = list(set(a) | set(b))
    va = np.array([a.get(k, 0) for k in keys], dtype=np.float64)
    vb = np.array([b.get(k, 0) for k in keys], dtype=np.float64)
    return float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))


def frag_similarity(gen: list[str], ref: list[str] | None = None, *,
                    ref_counts: Counter | None = None) -> float:
    """Frag: cosine similarity of BRICS-fragment counts of valid ``gen`` and ``ref``."""
    return count_cosine(fragments(ref) if ref_counts is None else ref_counts,
                        fragments(valid_smiles(gen)))


def scaf_similarity(gen: list[str], ref: list[str] | None = None, *,
                    ref_counts: Counter | None = None) -> float:
    """Scaf: cosine similarity of scaffold counts of valid ``gen`` and ``ref``."""
    return count_cosine(scaffolds(ref) if ref_counts is None else ref_counts,
                        scaffolds(valid_smiles(gen)))


# -- FCD -----------------------------------------------------------------------------
class ChemNet:
    """ChemNet (Preuer et al. 2018) as shipped in the ``fcd_torch`` wheel.

    The weights file is read with ``torch.load(weights_only=True)`` (no code is
    unpickled); the layers are rebuilt with fcd_torch's own loader, and SMILES are
    one-hot encoded the way fcd_torch does (350 positions, scaled by 1/35).
    """

    def __init__(self, device: str = "cpu", batch_size: int = 512) -> None:
        utils = require("fcd_torch.utils")
        path = Path(utils.__file__).parent / "ChemNet_v0.13_pretrained.pt"
        layers = torch.load(path, map_location="cpu", weights_only=True)
        self.net = utils.load_imported_model(layers).eval().to(device)
        self._one_hot = utils.get_one_hot
        self.device, self.batch_size = device, batch_size

    def features(self, smiles: list[str]) -> np.ndarray:
        """Penultimate activations ``(N, 512)`` of canonicalised ``smiles``."""
        canon = [canonical(s) for s in smiles]
        bad = [s for s, c in zip(smiles, canon) if c is None]
        if bad:
            raise DataError(f"ChemNet needs valid molecules; {len(bad)} are not "
                            f"(first: {bad[0]!r})")
        out = []
        with torch.inference_mode():
            for i in range(0, len(canon), self.batch_size):
                x = np.stack([self._one_hot(s, 350) for s in canon[i:i + self.batch_size]])
                x = torch.from_numpy(x / x.shape[2]).float().transpose(1, 2)
                out.append(self.net(x.to(self.device)).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 512))

    def stats(self, smiles: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Mean and covariance of the activations of ``smiles`` (at least 2)."""
        if len(smiles) < 2:
            raise DataError(f"FCD needs at least 2 molecules, got {len(smiles)}")
        return gaussian_fit(self.features(smiles))


def fcd(gen: list[str], ref: list[str] | None = None, *, chemnet: ChemNet | None = None,
        ref_stats: tuple[np.ndarray, np.ndarray] | None = None) -> float:
    """Frechet ChemNet Distance between the valid molecules of ``gen`` and ``ref`` (or
    precomputed reference statistics ``ref_stats`` from :meth:`ChemNet.stats`)."""
    if (ref is None) == (ref_stats is None):
        raise ConfigError("pass exactly one of ref and ref_stats")
    net = chemnet or ChemNet()
    mu_r, s_r = net.stats(ref) if ref_stats is None else ref_stats
    mu_g, s_g = net.stats(valid_smiles(gen))
    return frechet_distance(mu_g, s_g, mu_r, s_r)


# -- the whole table -------------------------------------------------------------------
def moses_metrics(gen: list[str], *, train: Iterable[str] | None, test: list[str],
                  test_scaffolds: list[str] | None = None, ks: tuple[int, ...] = (1000, 10000),
                  chemnet: ChemNet | None = None, fcd_size: int | None = None,
                  progress: Any = None) -> dict[str, float]:
    """Every MOSES metric of ``gen`` against the training set and the test set(s).

    Returns keys ``valid``, ``unique@k``, ``novelty`` (when ``train`` is given),
    ``IntDiv``, ``IntDiv2``,
    ``filters``, ``FCD/Test``, ``SNN/Test``, ``Frag/Test``, ``Scaf/Test`` and, with
    ``test_scaffolds``, the same four ``/TestSF``. ``fcd_size`` caps the generated and
    the reference molecules ChemNet reads (the first ones of each; ChemNet took about
    40 ms a molecule on a shared 2-core CPU, too slow for 10,000s). ``progress`` (a callable
    taking a message) is told what is being computed.
    """
    say = progress or (lambda _msg: None)
    valid = valid_smiles(gen)
    if not valid:
        raise DataError("none of the generated molecules is valid")
    out: dict[str, float] = {"valid": len(valid) / len(gen)}
    for k in ks:
        out[f"unique@{_k_name(k)}"] = unique_at(valid, k)
    if train is not None:
        out["novelty"] = novelty(valid, train)
    say("fingerprints")
    fps = fingerprints(valid)
    out["IntDiv"] = float(1 - aggregate_tanimoto(fps, fps, "mean", 1).mean())
    out["IntDiv2"] = float(1 - aggregate_tanimoto(fps, fps, "mean", 2).mean())
    say("filters")
    out["filters"] = float(np.mean([passes_filters(s) for s in valid]))
    net = chemnet or ChemNet()
    say("ChemNet on generated molecules")
    gen_stats = gaussian_fit(net.features(valid[:fcd_size]))
    gen_frag, gen_scaf = fragments(valid), scaffolds(valid)
    refs = {"Test": test, **({"TestSF": test_scaffolds} if test_scaffolds else {})}
    for name, ref in refs.items():
        say(f"ChemNet and fingerprints on {name}")
        mu, sigma = net.stats(ref[:fcd_size])
        out[f"FCD/{name}"] = frechet_distance(*gen_stats, mu, sigma)
        out[f"SNN/{name}"] = float(aggregate_tanimoto(fingerprints(ref), fps, "max").mean())
        out[f"Frag/{name}"] = count_cosine(fragments(ref), gen_frag)
        out[f"Scaf/{name}"] = count_cosine(scaffolds(ref), gen_scaf)
    return out


def _k_name(k: int) -> str:
    return f"{k // 1000}k" if k % 1000 == 0 else str(k)


# -- properties ------------------------------------------------------------------------
def molecule_property(smiles: str, name: str) -> float:
    """A property of one molecule: ``qed`` (Bickerton et al. 2012), ``logp`` (Crippen),
    ``sa`` (synthetic accessibility, Ertl & Schuffenhauer 2009, RDKit Contrib) or
    ``penalized_logp`` = logP - SA - max(0, largest ring size - 6), unnormalised."""
    if name not in PROPERTIES:
        raise ConfigError(f"property {name!r} is not one of {', '.join(PROPERTIES)}")
    (mol,) = _mols([smiles])
    if name == "qed":
        return float(require("rdkit.Chem.QED").qed(mol))
    logp = float(require("rdkit.Chem.Crippen").MolLogP(mol))
    if name == "logp":
        return logp
    sa = float(_sascorer().calculateScore(mol))
    if name == "sa":
        return sa
    rings = [len(r) for r in mol.GetRingInfo().AtomRings()]
    return logp - sa - max(0, max(rings, default=0) - 6)


@lru_cache(maxsize=1)
def _sascorer() -> Any:
    """RDKit Contrib's SA scorer (it reads the fragment scores RDKit ships with it)."""
    import importlib.util

    config = require("rdkit.RDConfig")
    path = Path(config.RDContribDir) / "SA_Score" / "sascorer.py"
    if not path.is_file():
        raise ConfigError(f"RDKit's SA scorer is missing ({path}); reinstall rdkit")
    spec = importlib.util.spec_from_file_location("aekit_sascorer", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

