"""The SELFIES ring guard: its derivation tracker builds the molecule the selfies decoder
builds, its limit is the data's largest ring, banned tokens are never drawn, and the
strings it lets through respect the limit."""

from __future__ import annotations

import random

import pytest

pytest.importorskip("rdkit")  # the chem extra is part of dev: CI runs these
pytest.importorskip("selfies")

import torch  # noqa: E402

from aekit.data.molecules import MoleculeTokenizer, _quiet_rdkit  # noqa: E402
from aekit.data.selfies_rings import (  # noqa: E402
    Derivation,
    RingGuard,
    largest_ring,
    split_size,
)
from aekit.errors import ConfigError  # noqa: E402


@pytest.fixture(scope="module")
def tok(mols) -> MoleculeTokenizer:
    return MoleculeTokenizer("selfies").fit(mols)


def test_largest_ring_by_hand():
    assert largest_ring(["CCO"]) == 0
    assert largest_ring(["c1ccccc1", "C1CC1"]) == 6
    assert largest_ring(["c1ccc2ccccc2c1"]) == 6  # fused: two 6-rings, not a 10-ring
    assert largest_ring(["C1CCCCCCC1", "not a smiles"]) == 8
    # two new bonds i-j, i-k: rings through i-j only (10), i-k only (6), both (5+2)
    assert split_size(10, 5, 5) == 7


def test_the_derivation_builds_the_decoders_molecule(mols, tok):
    chem = _quiet_rdkit()
    for s in mols:
        d = Derivation()
        for t in tok.split(s):
            d.push(t)
        mol = chem.MolFromSmiles(s)
        assert len(d.cap) == mol.GetNumHeavyAtoms(), s
        assert sum(map(len, d.adj)) // 2 == mol.GetNumBonds(), s


def test_the_guard_admits_the_training_strings(mols, tok):
    guard = RingGuard(tok.tokens, largest_ring(mols))
    admitted = guard.admits([tok.split(s) for s in mols])
    # one peri-fused system closes a ring that only a later run of closures splits
    assert sum(admitted) >= 0.99 * len(mols)
    with pytest.raises(ConfigError, match="max_ring must be >= 3"):
        RingGuard(tok.tokens, 2)


def _random_walks(tok: MoleculeTokenizer, limit: int | None, n: int = 200,
                  steps: int = 40) -> list[str]:
    """Strings of tokens drawn uniformly from those the guard allows (all without it)."""
    rng = random.Random(0)
    guard = RingGuard(tok.tokens, limit or 3)
    guard.start(n)
    rows: list[list[int]] = [[] for _ in range(n)]
    for _ in range(steps):
        banned = guard.banned() if limit else torch.zeros(n, tok.vocab_size, dtype=bool)
        drawn = [rng.choice([i for i in range(3, tok.vocab_size) if not banned[r, i]])
                 for r in range(n)]
        for row, t in zip(rows, drawn):
            row.append(t)
        guard.advance(torch.tensor(drawn))
    return [tok.join([tok.tokens[i] for i in row]) for row in rows]


def test_strings_through_the_guard_respect_the_limit(tok):
    free = [largest_ring([s]) for s in _random_walks(tok, None)]
    guarded = [largest_ring([s]) for s in _random_walks(tok, 6)]
    assert sum(r > 6 for r in free) >= 3  # random strings make macrocycles
    # the rare residue (a ring bond the decoder drops for lack of valence) is what
    # MoleculeVAE.sample redraws
    assert sum(r > 6 for r in guarded) <= 0.005 * len(guarded)
    assert max(guarded) < max(free)


def test_generate_never_draws_a_banned_token(tok):
    from aekit.models.seq_vae import SequenceVAE, SeqVAEConfig

    guard = RingGuard(tok.tokens, 5)
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    class Recording:
        def start(self, batch: int) -> None:
            guard.start(batch)

        def banned(self) -> torch.Tensor:
            seen.append((guard.banned(), None))
            return seen[-1][0]

        def advance(self, ids: torch.Tensor) -> None:
            seen[-1] = (seen[-1][0], ids)
            guard.advance(ids)

    torch.manual_seed(0)
    model = SequenceVAE(SeqVAEConfig(vocab_size=tok.vocab_size, input_shape=(tok.length,),
                                     latent_dim=4, hidden_size=16, embed_dim=8))
    ids, _ = model.generate(torch.randn(100, 4), constraint=Recording())
    assert seen and any(bool(b.any()) for b, _ in seen)  # the guard did ban tokens
    for banned, drawn in seen:
        assert not bool(banned[torch.arange(len(drawn)), drawn].any())


def _derive(tokens: list[str], benzenes: bool = True) -> Derivation:
    d = Derivation(7, benzenes)
    for t in tokens:
        d.push(t)
    return d


def test_benzene_partner_is_the_start_of_an_open_kekule_path():
    hexatriene = ["[C]", "[=C]", "[C]", "[=C]", "[C]", "[=C]"]
    assert _derive(hexatriene).benzene_partner(5) == 0
    assert _derive(["[C]", *hexatriene]).benzene_partner(6) == 1
    assert _derive(["[C]", "[C]", "[C]", "[C]", "[C]", "[C]"]).benzene_partner(5) is None
    assert _derive(hexatriene[:5] + ["[C]"]).benzene_partner(5) is None  # C=C-C=C-C-C
    # once a ring holds the path's atoms it is no open path
    benzene = _derive(hexatriene + ["[Ring1]", "[=Branch1]", "[C]"])
    assert benzene.benzene_partner(6) is None and 0 in benzene.adj[5]


def _allowed(guard: RingGuard, tok: MoleculeTokenizer, tokens: list[str]) -> list[str]:
    """The tokens the guard allows after reading ``tokens``."""
    guard.start(1)
    for t in tokens:
        guard.advance(torch.tensor([tok.tokens.index(t)]))
    return [t for t, b in zip(tok.tokens, guard.banned()[0].tolist()) if not b]


def test_close_benzenes_makes_a_closure_end_in_the_benzene(tok):
    chem = _quiet_rdkit()

    def aromatic(tokens: list[str]) -> int:
        return len(chem.MolFromSmiles(tok.join(tokens)).GetAromaticAtoms())

    start = ["[C]", "[C]", "[=C]", "[C]", "[=C]", "[C]", "[=C]", "[Ring1]"]
    free = _allowed(RingGuard(tok.tokens, 7), tok, start)
    assert {aromatic([*start, t]) for t in free} == {0, 6}  # any ring, or none
    guard = RingGuard(tok.tokens, 7, close_benzenes=True)
    paths = 0
    for t in _allowed(guard, tok, start):
        if aromatic([*start, t]) == 6:
            continue  # closed the benzene (toluene)
        # another ring first (a fused system's c12): the next closure must close it
        ring_symbols = _allowed(guard, tok, [*start, t])
        assert ring_symbols and all("Ring" in r for r in ring_symbols), t
        for r in (r for r in ring_symbols if "Ring1" in r):  # one index symbol
            for q in _allowed(guard, tok, [*start, t, r]):
                assert aromatic([*start, t, r, q]) >= 6, (t, r, q)
                paths += 1
    assert paths > 0


def test_close_benzenes_admits_the_training_strings(mols, tok):
    guard = RingGuard(tok.tokens, largest_ring(mols), close_benzenes=True)
    assert sum(guard.admits([tok.split(s) for s in mols])) >= 0.99 * len(mols)
    # fused systems written c12 close another ring first and the benzene next
    assert guard.admits([tok.split("c1ccc2ccccc2c1"), tok.split("Cc1c[nH]c2ccccc12")])
