"""Molecules as token sequences: SMILES files, tokenisers (SMILES, SELFIES), MOSES data.

* :func:`read_smiles` reads plain or gzipped CSV files with a ``smiles`` column (any
  case, as in MOSES' ``train.csv.gz``) or ``.smi`` files (one SMILES per line, an optional
  name after whitespace). A line RDKit cannot parse is skipped and named in
  :attr:`SmilesFile.skipped`, never a crash.
* :class:`MoleculeTokenizer` turns molecules into padded token-id sequences and back.
  ``kind="selfies"`` (Krenn et al. 2020) makes every decoded string a valid molecule;
  ``kind="smiles"`` splits SMILES with the regular expression of Schwaller et al. (2019).
  The vocabulary is data (``to_dict`` / ``from_dict``), saved next to a model.
* :func:`extract_moses` copies MOSES' train / test / test_scaffolds CSVs out of the
  ``molsets`` wheel (``pip download --no-deps molsets==0.3.1``) without importing it.

RDKit and SELFIES are optional: ``pip install 'aekit[chem]'``.
"""

from __future__ import annotations

import csv
import gzip
import importlib
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from aekit.errors import ConfigError, DataError

PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
SPECIALS = (PAD, BOS, EOS)  # ids 0, 1, 2 in every vocabulary
TOKENIZERS = ("selfies", "smiles")
MOSES_FILES = ("train.csv.gz", "test.csv.gz", "test_scaffolds.csv.gz")

# Schwaller et al. 2019 (Molecular Transformer): bracket atoms, two-letter halogens,
# ring-bond labels %NN, then single characters.
_SMILES_TOKEN = re.compile(
    r"(\[[^\]]+]|Br?|Cl?|N|O|S|P|F|I|b|c|n|o|s|p|\(|\)|\.|=|#|-|\+|\\|/|:|~|@|\?|>|\*|\$"
    r"|%[0-9]{2}|[0-9])"
)


def require(module: str) -> Any:
    """Import an optional chemistry dependency, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(f"this needs the optional package {module.split('.')[0]!r}: "
                          "pip install 'aekit[chem]'") from None


def _quiet_rdkit() -> Any:
    """RDKit's ``Chem`` with its parse-error log silenced (errors are counted instead)."""
    chem = require("rdkit.Chem")
    require("rdkit.RDLogger").DisableLog("rdApp.*")
    return chem


def canonical(smiles: str) -> str | None:
    """RDKit's canonical SMILES of ``smiles``, or None when it does not parse."""
    chem = _quiet_rdkit()
    mol = chem.MolFromSmiles(smiles) if smiles else None
    return None if mol is None else chem.MolToSmiles(mol)


@dataclass
class SmilesFile:
    """Molecules read from a file.

    Attributes
    ----------
    smiles : list of str
        Canonical SMILES of every line that parsed, in file order.
    skipped : list of (int, str)
        ``(line number, text)`` of every line that did not parse (1-based, header = 1).
    path : str
        The file read.
    """

    smiles: list[str]
    skipped: list[tuple[int, str]] = field(default_factory=list)
    path: str = ""

    def summary(self) -> str:
        """One line: how many molecules were read and which lines were skipped."""
        text = f"{self.path}: {len(self.smiles)} molecules"
        if self.skipped:
            lines = ", ".join(str(n) for n, _ in self.skipped[:5])
            more = ", ..." if len(self.skipped) > 5 else ""
            text += (f"; skipped {len(self.skipped)} unparsable SMILES "
                     f"(line {lines}{more})")
        return text


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return path.open(encoding="utf-8")


def read_smiles(path: str | Path, column: str | None = None, limit: int | None = None,
                canonicalize: bool = True, keep_invalid: bool = False) -> SmilesFile:
    """Read molecules from a CSV / ``.smi`` file, plain or gzipped.

    Parameters
    ----------
    path : str or Path
        ``*.csv[.gz]`` with a header row holding a ``smiles`` column (any case), or
        ``*.smi[.gz]`` / ``*.txt[.gz]`` with one SMILES per line (text after the first
        whitespace is a name and ignored).
    column : str, optional
        The CSV column to read (default: the one named ``smiles`` in any case).
    limit : int, optional
        Stop after this many molecules.
    canonicalize : bool
        Return RDKit canonical SMILES (default); otherwise the text as written.
    keep_invalid : bool
        Keep unparsable lines in ``smiles`` as written (to measure validity of generated
        molecules); they are still listed in ``skipped``.

    Raises
    ------
    DataError
        The file has no SMILES column, or no line parses.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    chem = _quiet_rdkit()
    is_csv = ".csv" in path.suffixes
    out = SmilesFile([], [], str(path))
    with _open_text(path) as f:
        if is_csv:
            rows = csv.reader(f)
            header = next(rows, None)
            if header is None:
                raise DataError(f"{path}: the file is empty")
            names = [h.strip() for h in header]
            want = column or next((h for h in names if h.lower() == "smiles"), None)
            if want not in names:
                raise DataError(f"{path}: no column {want or 'smiles'!r}; the header has "
                                f"{', '.join(map(repr, names))}")
            col = names.index(want)
            texts = ((n, row[col].strip() if col < len(row) else "")
                     for n, row in enumerate(rows, start=2))
        else:
            texts = ((n, (line.split() or [""])[0]) for n, line in enumerate(f, start=1))
        for n, text in texts:
            mol = chem.MolFromSmiles(text) if text else None
            if mol is None or mol.GetNumAtoms() == 0:
                out.skipped.append((n, text))
                if keep_invalid:
                    out.smiles.append(text)
                continue
            out.smiles.append(chem.MolToSmiles(mol) if canonicalize else text)
            if limit is not None and len(out.smiles) >= limit:
                break
    if not out.smiles:
        raise DataError(f"{path}: no line holds a SMILES that RDKit can parse")
    return out


def write_smiles_csv(path: str | Path, smiles: list[str]) -> Path:
    """Write ``smiles`` as a CSV with one ``smiles`` column (header row), gzipped if
    ``path`` ends in ``.gz``."""
    path = Path(path)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["smiles"])
    w.writerows([s] for s in smiles)
    data = buf.getvalue().encode("utf-8")
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
    return path


def extract_moses(wheel: str | Path, out_dir: str | Path) -> dict[str, Path]:
    """Copy MOSES' data CSVs out of a downloaded ``molsets`` wheel (a zip file).

    Returns ``{"train": path, "test": path, "test_scaffolds": path}``. Only the data
    files are read; nothing of the wheel's code is imported.
    """
    wheel, out_dir = Path(wheel), Path(out_dir)
    if not zipfile.is_zipfile(wheel):
        raise DataError(f"{wheel}: not a wheel (zip) file; get it with "
                        "pip download --no-deps molsets==0.3.1")
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    with zipfile.ZipFile(wheel) as z:
        for name in MOSES_FILES:
            member = f"moses/dataset/data/{name}"
            if member not in z.namelist():
                raise DataError(f"{wheel}: has no {member}; is it the molsets wheel?")
            target = out_dir / name
            target.write_bytes(z.read(member))
            paths[name.split(".")[0]] = target
    return paths


def smiles_tokens(smiles: str) -> list[str]:
    """Split a SMILES string into tokens; a character no token covers is a DataError."""
    tokens = _SMILES_TOKEN.findall(smiles)
    if sum(map(len, tokens)) != len(smiles):
        bad = _SMILES_TOKEN.sub("", smiles)
        raise DataError(f"SMILES {smiles!r}: cannot tokenise {bad[:10]!r}")
    return tokens


class MoleculeTokenizer:
    """Molecules <-> padded token-id sequences ``<bos> t1 ... tn <eos> <pad>...``.

    Parameters
    ----------
    kind : str
        ``"selfies"`` (every token string decodes to a valid molecule) or ``"smiles"``.
    tokens : list of str, optional
        The vocabulary after the special tokens; built by :meth:`fit` when not given.
    max_length : int, optional
        Tokens per molecule (without ``<bos>`` / ``<eos>``); from :meth:`fit` when not given.
    """

    def __init__(self, kind: str = "selfies", tokens: list[str] | None = None,
                 max_length: int | None = None) -> None:
        if kind not in TOKENIZERS:
            raise ConfigError(f"tokenizer={kind!r} is not one of {TOKENIZERS}")
        self.kind = kind
        self.tokens = list(SPECIALS) + list(tokens or [])
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.max_length = max_length
        if kind == "selfies":
            require("selfies")  # fail here, not at the first molecule

    @property
    def _sf(self) -> Any:
        """The selfies module (looked up, not stored, so that a tokenizer pickles)."""
        return require("selfies")

    # -- strings <-> tokens --------------------------------------------------------
    def split(self, smiles: str) -> list[str]:
        """The tokens of one molecule."""
        if self.kind == "smiles":
            return smiles_tokens(smiles)
        try:
            return list(self._sf.split_selfies(self._sf.encoder(smiles)))
        except self._sf.EncoderError as e:
            raise DataError(f"SMILES {smiles!r}: SELFIES cannot encode it ({e})") from None

    def join(self, tokens: list[str]) -> str:
        """The SMILES of a token list (SELFIES decoded; may be invalid for SMILES)."""
        text = "".join(tokens)
        return self._sf.decoder(text) if self.kind == "selfies" else text

    # -- vocabulary ----------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        """Number of token ids, special tokens included."""
        return len(self.tokens)

    @property
    def length(self) -> int:
        """Length of an encoded sequence: ``max_length + 2`` (``<bos>``, ``<eos>``)."""
        if self.max_length is None:
            raise ConfigError("the tokenizer has no max_length yet: call fit first")
        return self.max_length + 2

    def split_all(self, smiles: list[str], n_jobs: int = 1) -> list[list[str]]:
        """The tokens of every molecule, with ``n_jobs`` worker processes when > 1
        (SELFIES encoding costs a fraction of a millisecond per molecule)."""
        if n_jobs <= 1 or len(smiles) < 10_000:
            return [self.split(s) for s in smiles]
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        size = -(-len(smiles) // (4 * n_jobs))
        chunks = [smiles[i:i + size] for i in range(0, len(smiles), size)]
        with ProcessPoolExecutor(n_jobs, mp_context=get_context("spawn")) as pool:
            parts = pool.map(_split_chunk, [self.kind] * len(chunks), chunks)
            return [toks for part in parts for toks in part]

    def fit(self, smiles: list[str], n_jobs: int = 1) -> MoleculeTokenizer:
        """Build the vocabulary and the maximum length from ``smiles``."""
        return self.fit_tokens(self.split_all(smiles, n_jobs))

    def fit_tokens(self, token_lists: list[list[str]]) -> MoleculeTokenizer:
        """Build the vocabulary and the maximum length from molecules' token lists."""
        seen: dict[str, None] = {}
        longest = 0
        for toks in token_lists:
            longest = max(longest, len(toks))
            seen.update(dict.fromkeys(toks))
        self.tokens = list(SPECIALS) + sorted(seen)
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.max_length = self.max_length or longest
        return self

    def fits(self, smiles: str) -> bool:
        """True when ``smiles`` can be encoded: known tokens, at most ``max_length``."""
        try:
            toks = self.split(smiles)
        except DataError:
            return False
        return len(toks) <= self.length - 2 and all(t in self.index for t in toks)

    def encode(self, smiles: list[str], n_jobs: int = 1) -> torch.Tensor:
        """Token ids ``(N, max_length + 2)`` (int64) of ``smiles``.

        Raises
        ------
        DataError
            A token is outside the vocabulary, or a molecule is longer than
            ``max_length``; the message names the molecule and its position in the list.
        """
        return self.encode_tokens(smiles, self.split_all(smiles, n_jobs))

    def encode_tokens(self, smiles: list[str], token_lists: list[list[str]]) -> torch.Tensor:
        """:meth:`encode` for molecules already split (``smiles`` names them in errors)."""
        length = self.length
        ids = torch.zeros(len(token_lists), length, dtype=torch.long)
        for i, (s, toks) in enumerate(zip(smiles, token_lists)):
            unknown = sorted({t for t in toks if t not in self.index})
            if unknown:
                raise DataError(f"molecule {i + 1} ({s}): token(s) {', '.join(unknown)} are "
                                f"not in the model's vocabulary of {self.vocab_size} tokens")
            if len(toks) > self.max_length:
                raise DataError(f"molecule {i + 1} ({s}): {len(toks)} tokens, more than the "
                                f"model's maximum of {self.max_length}")
            row = [self.index[BOS], *(self.index[t] for t in toks), self.index[EOS]]
            ids[i, :len(row)] = torch.tensor(row)
        return ids

    def decode(self, ids: torch.Tensor) -> list[str]:
        """SMILES of token-id rows: tokens after ``<bos>`` up to the first ``<eos>``
        (or ``<pad>``). Returns the text as decoded (canonicalise with :func:`canonical`)."""
        out = []
        eos, pad, bos = self.index[EOS], self.index[PAD], self.index[BOS]
        for row in ids.long().tolist():
            toks = []
            for t in row:
                if t in (eos, pad):
                    break
                if t != bos:
                    toks.append(self.tokens[t])
            out.append(self.join(toks))
        return out

    # -- persistence ---------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (kind, tokens, max_length)."""
        return {"kind": self.kind, "tokens": self.tokens[len(SPECIALS):],
                "max_length": self.max_length}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MoleculeTokenizer:
        """The tokenizer :meth:`to_dict` described."""
        try:
            return cls(d["kind"], list(d["tokens"]), int(d["max_length"]))
        except (KeyError, TypeError, ValueError):
            raise DataError("not a molecule tokenizer description (needs kind, tokens, "
                            "max_length)") from None


def _split_chunk(kind: str, smiles: list[str]) -> list[list[str]]:
    """Worker of :meth:`MoleculeTokenizer.split_all`."""
    tok = MoleculeTokenizer(kind)
    return [tok.split(s) for s in smiles]
