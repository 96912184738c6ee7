"""Ring-size-constrained SELFIES decoding: the derivation state of partly drawn strings.

A SELFIES string is read by a small grammar (Krenn et al. 2020; selfies 2.x): every atom
symbol bonds to the previous atom with what the derivation state (the previous atom's
free valence) allows, ``[Branch{n}]`` reads ``n`` index symbols giving the branch length
``Q + 1``, and ``[Ring{n}]`` reads ``n`` index symbols and closes a ring from the current
atom to the atom placed ``Q + 1`` atoms earlier (``max(0, i - Q - 1)``). Any string
decodes to a valid molecule, so a decoder slip in a ring index becomes a valid molecule
with an odd ring: a ring closed ``Q + 1`` atoms back through a long chain is a
macrocycle.

:class:`RingGuard` follows the derivation of each string of a batch token by token
(the same grammar functions the selfies decoder uses: :mod:`selfies.grammar_rules`),
keeps the molecular graph built so far (chain, branch and ring bonds, each atom's used
valence) and, before every token, bans:

* while a ring's index symbols are read, every index value whose new ring would have
  more than ``max_ring`` atoms: the ring a bond i-j adds has the shortest path from i to
  j in the graph so far plus one atoms (later bonds can only shorten it);
* unless the next ring closure from the same atom can split that ring into two within
  the limit (a fused system written ``c12`` closes its large ring first): then the
  closure is allowed and only a splitting ring symbol may follow (:func:`split_size`);
* a ring symbol for which no index value is allowed.

A ring bond whose target atom has no free valence is not formed by the selfies decoder,
so it is never banned. The limit is the largest ring of the training molecules
(:func:`largest_ring`, RDKit's smallest set of smallest rings); :meth:`RingGuard.admits`
says which training strings the rule lets through token by token (all but peri-fused
systems whose large ring a later run of closures splits: 299 of the first 300 MOSES
test molecules).

The tracker mirrors the decoder except for one order effect: selfies forms ring bonds
after the whole string is read, so an atom's free valence can be spent by later chain
bonds and a ring bond the tracker counted can fail to form; rings closed after it are
then larger than measured. A string cut at the maximum length while a ring waits to be
split is the other residue. :class:`aekit.apps.molecules.MoleculeVAE` checks the
decoded molecules with RDKit and redraws that residue.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from functools import cache
from itertools import product
from typing import Any

import torch

from aekit.errors import ConfigError

NO_INDEX = 0  # the index value of a symbol outside selfies' index alphabet


@cache
def _grammar() -> Any:
    from aekit.data.molecules import require

    return require("selfies.grammar_rules")


@cache
def _index_code() -> dict[str, int]:
    from aekit.data.molecules import require

    return require("selfies.constants").INDEX_CODE


@dataclass
class _Frame:
    """One level of the derivation: the main chain or a branch being read."""

    prev: int | None  # index of the atom symbols bond to (None before the first)
    state: int | None  # free valence of ``prev`` for the next symbol; None: stopped
    budget: float  # symbols this frame may read (inf for the main chain)
    read: int = 0
    resume: int | None = 0  # the parent's state once this branch ends


@dataclass
class _Pending:
    """Index symbols being read after a branch or ring symbol."""

    kind: str  # "branch" or "ring"
    n: int
    order: int  # branch type, or the ring bond's order
    values: list[int] = field(default_factory=list)


class Derivation:
    """The selfies derivation of one string, advanced one symbol at a time.

    Besides the graph it keeps the ring bonds closed at the current atom by the current
    run of ring symbols (``group``), the size of the last one's ring (``last``: the
    shortest path between its atoms before it, plus one) and whether that exceeds
    ``max_ring`` and waits to be split (``over``). A fused ring system written ``c12``
    closes a large ring first and splits it with the next closure of the run: the two
    bonds add two rings, and the smallest basis of them takes the two shortest of the
    ring through the first bond only, through the second only, and through both
    (:func:`split_size`).
    """

    def __init__(self, max_ring: int | None = None, benzenes: bool = False) -> None:
        self.max_ring = max_ring
        self.benzenes = benzenes
        self.owed: int | None = None  # a benzene's last atom, owed the run's next closure
        self.frames = [_Frame(None, 0, float("inf"))]
        self.pending: _Pending | None = None
        self.cap: list[int] = []  # bonding capacity of each atom
        self.used: list[int] = []  # valence used by bonds so far
        self.adj: list[dict[int, int]] = []  # neighbour -> bond order
        self.group: list[tuple[int, int]] = []
        self.last = 0
        self.over = False
        self.ended = False

    # -- reading -------------------------------------------------------------------
    def push(self, symbol: str) -> None:
        """Read one symbol (anything not written ``[...]``, e.g. ``<eos>``, ends the
        string)."""
        if self.ended:
            return
        if not symbol.startswith("["):
            self.ended = True
            self._end_group()
            return
        for f in self.frames:
            f.read += 1
        top = self.frames[-1]
        if self.pending is not None:
            self.pending.values.append(_index_code().get(symbol, NO_INDEX))
            if len(self.pending.values) == self.pending.n:
                self._resolve()
        elif top.state is not None:
            self._symbol(symbol, top)
        self._close_frames()

    def _symbol(self, symbol: str, top: _Frame) -> None:
        g = _grammar()
        state = top.state
        if symbol[-4:-2] == "ng":  # [Ring{n}]
            rtype, n, _ = g.process_ring_symbol(symbol)
            if state > 0:
                order, top.state = g.next_ring_state(rtype, state)
                self.pending = _Pending("ring", n, order)
            return
        self._end_group()
        if symbol[-4:-2] == "ch":  # [Branch{n}]
            btype, n = g.process_branch_symbol(symbol)
            if state > 1:
                self.pending = _Pending("branch", n, btype)
        elif "eps" in symbol:
            top.state = 0 if state == 0 else None
        else:
            (order, _), atom = g.process_atom_symbol(symbol)
            order, top.state = g.next_atom_state(order, atom.bonding_capacity, state)
            if order or state == 0:
                self.cap.append(atom.bonding_capacity)
                self.used.append(0)
                self.adj.append({})
                if order:
                    self._bond(top.prev, len(self.cap) - 1, order)
                top.prev = len(self.cap) - 1

    def _resolve(self) -> None:
        pending, self.pending = self.pending, None
        q = _value(pending.values)
        top = self.frames[-1]
        if pending.kind == "branch":
            init, resume = _grammar().next_branch_state(pending.order, top.state)
            self.frames.append(_Frame(top.prev, init, q + 1, resume=resume))
            return
        i = top.prev
        j = self.target(q)
        if i == j or self.free(j) <= 0 or self.free(i) <= 0:
            return  # the selfies decoder forms no bond
        new = j not in self.adj[i]
        if self.benzenes and new:
            partner = self.owed if self.owed is not None else self.benzene_partner(i)
            self.owed = None if partner in (None, j) else partner
        if new and self.over:  # this ring splits the last one (or not)
            b = self.group[-1][1]
            size = split_size(self.last, self.distances(i, skip=(i, b))[j],
                              self.distances(b, skip=(i, b))[j])
            self.over = self.max_ring is not None and size > self.max_ring
        elif new:
            self.last = self.distances(i)[j] + 1
            self.over = self.max_ring is not None and self.last > self.max_ring
        self._bond(i, j, min(pending.order, self.free(j), self.free(i)))
        if new:
            self.group.append((i, j))

    def _end_group(self) -> None:
        self.group, self.over, self.owed = [], False, None

    def _close_frames(self) -> None:
        while len(self.frames) > 1 and self.pending is None and (
                self.frames[-1].read >= self.frames[-1].budget):
            done = self.frames.pop()
            self.frames[-1].state = done.resume
            self._end_group()  # the next symbol bonds to another atom

    # -- the graph -----------------------------------------------------------------
    def _bond(self, a: int, b: int, order: int) -> None:
        order = min(self.adj[a].get(b, 0) + order, 3) - self.adj[a].get(b, 0)
        self.adj[a][b] = self.adj[b][a] = self.adj[a].get(b, 0) + order
        self.used[a] += order
        self.used[b] += order

    def target(self, q: int) -> int:
        """The atom a ring with index value ``q`` closes to from the current atom."""
        return max(0, self.frames[-1].prev - (q + 1))

    def free(self, atom: int) -> int:
        """Valence of ``atom`` not yet used by bonds."""
        return self.cap[atom] - self.used[atom]

    def benzene_partner(self, i: int) -> int | None:
        """The atom ``j`` that a ring bond from ``i`` would close into a kekule benzene:
        the end of a path ``j = . - . = . - . = i`` (5 bonds, orders 2 1 2 1 2 from
        ``i``) through atoms on no ring, ``j`` with free valence and not bonded to ``i``
        (None without such a path; the first found if several)."""
        if self._cyclic(i):
            return None
        orders = (2, 1, 2, 1, 2)
        stack = [(i, (i,))]
        while stack:
            a, path = stack.pop()
            if len(path) == 6:
                if self.free(a) > 0 and a not in self.adj[i]:
                    return a
                continue
            for b, order in self.adj[a].items():
                if order == orders[len(path) - 1] and b not in path and not self._cyclic(b):
                    stack.append((b, (*path, b)))
        return None

    def _cyclic(self, atom: int) -> bool:
        """Whether ``atom`` is on a ring of the graph so far."""
        return any(self.distances(atom, skip=(atom, b))[b] <= len(self.cap)
                   for b in self.adj[atom])

    def distances(self, source: int, skip: tuple[int, int] | None = None) -> list[int]:
        """Bonds on the shortest path from ``source`` to every atom (BFS), optionally
        without the bond ``skip``."""
        far = len(self.cap) + 1
        dist = [far] * len(self.cap)
        dist[source] = 0
        queue = deque([source])
        while queue:
            a = queue.popleft()
            for b in self.adj[a]:
                if dist[b] == far and (a, b) != skip and (b, a) != skip:
                    dist[b] = dist[a] + 1
                    queue.append(b)
        return dist



def split_size(first: int, to_second: int, between: int) -> int:
    """The larger of the two rings a pair of new bonds i-j, i-k adds, in the smallest
    basis: the second smallest of the ring through i-j only (``first`` atoms), through
    i-k only (``to_second`` + 1: path i..k) and through both (``between`` + 2: path
    j..k)."""
    return sorted((first, to_second + 1, between + 2))[1]


def _value(values: list[int]) -> int:
    """selfies' index value of index symbols (base 16, most significant first)."""
    q = 0
    for v in values:
        q = q * 16 + v
    return q


def largest_ring(smiles: list[str]) -> int:
    """The largest ring (RDKit's smallest set of smallest rings) among ``smiles``, in
    atoms; 0 with no ring. Strings RDKit cannot parse are skipped."""
    from aekit.data.molecules import _quiet_rdkit

    chem = _quiet_rdkit()
    largest = 0
    for s in smiles:
        mol = chem.MolFromSmiles(s)
        if mol is not None:
            largest = max([largest, *map(len, mol.GetRingInfo().AtomRings())])
    return largest


class RingGuard:
    """Bans, token by token, the SELFIES symbols that would close a ring of more than
    ``max_ring`` atoms (see the module docstring).

    A ring closure is allowed when the smallest ring through it has at most
    ``max_ring`` atoms, or when one more ring closure from the same atom can bring it
    there (a fused system written ``c12``); after such a closure only a ring symbol that
    does so is allowed. This is the rule :func:`largest_ring` measures.

    Used as the ``constraint`` of :meth:`aekit.models.seq_vae.SequenceVAE.generate`:
    :meth:`start` before a batch, :meth:`banned` before each token, :meth:`advance`
    with the drawn tokens.

    Parameters
    ----------
    tokens : list of str
        The vocabulary, in id order (special tokens included; anything not written as
        ``[...]`` ends a string).
    max_ring : int
        Largest ring allowed, in atoms (at least 3).
    """

    def __init__(self, tokens: list[str], max_ring: int, close_benzenes: bool = False
                 ) -> None:
        if max_ring < 3:
            raise ConfigError(f"max_ring must be >= 3 (atoms in a ring), got {max_ring}")
        self.tokens = list(tokens)
        self.max_ring = int(max_ring)
        self.close_benzenes = close_benzenes
        g = _grammar()
        code = _index_code()
        self.value = [code.get(t, NO_INDEX) for t in self.tokens]
        self.ring_n = {i: g.process_ring_symbol(t)[1] for i, t in enumerate(self.tokens)
                       if t.startswith("[") and t[-4:-2] == "ng"
                       and g.process_ring_symbol(t) is not None}
        self.ends = torch.tensor([not t.startswith("[") for t in self.tokens])
        self.values = sorted(set(self.value))  # index values some token spells
        self.reachable = {  # index values `left` more symbols can spell, ascending
            left: sorted({_value(list(v)) for v in product(self.values, repeat=left)})
            for left in range(max(self.ring_n.values(), default=0) + 1)}
        self.rows: list[Derivation] = []

    def start(self, batch: int) -> None:
        """Begin ``batch`` empty strings."""
        self.rows = [Derivation(self.max_ring, self.close_benzenes) for _ in range(batch)]

    def advance(self, ids: torch.Tensor) -> None:
        """Read the token each string drew."""
        for d, t in zip(self.rows, ids.tolist()):
            d.push(self.tokens[t])

    def admits(self, token_lists: list[list[str]]) -> list[bool]:
        """Whether each token list passes the guard token by token (none of its tokens
        banned when it is read): the share of training strings admitted says how much
        of the data the closure-order rule excludes."""
        out = []
        index = {t: i for i, t in enumerate(self.tokens)}
        for tokens in token_lists:
            self.start(1)
            ok = True
            for t in tokens:
                if bool(self.banned()[0, index[t]]):
                    ok = False
                    break
                self.rows[0].push(t)
            out.append(ok)
        return out

    def banned(self) -> torch.Tensor:
        """Boolean ``(batch, vocab)``: True where the next token is banned."""
        out = torch.zeros(len(self.rows), len(self.tokens), dtype=torch.bool)
        for r, d in enumerate(self.rows):
            if d.ended or d.frames[-1].prev is None:
                continue
            fixing = d.over
            owing = d.owed is not None
            partner = self._partner(d, fixing)
            ring = d.pending if d.pending is not None and d.pending.kind == "ring" else None
            if ring is None and (d.pending is not None or not d.frames[-1].state):
                continue  # a branch index is being read, or no ring symbol would be read
            top = d.frames[-1]
            if ring is not None:
                prefix, left = _value(ring.values), ring.n - len(ring.values) - 1
                check = _Targets(d, self.max_ring, fixing, top.read + left + 1 < top.budget,
                                 partner)
                ok = {v: self._completes(check, prefix * 16 + v, left) for v in self.values}
                out[r] = torch.tensor([not ok[v] for v in self.value]) | self.ends
                continue
            ok_n = {n: self._completes(_Targets(d, self.max_ring, fixing,
                                                top.read + n + 1 < top.budget, partner), 0, n)
                    for n in set(self.ring_n.values())}
            if fixing or owing:  # only a ring symbol that splits the last ring within
                out[r] = True  # the limit, or closes the benzene the last one passed by
            for i, n in self.ring_n.items():
                out[r, i] = not ok_n[n]
        return out

    def _partner(self, d: Derivation, fixing: bool) -> int | None:
        """The atom a benzene waits to be closed to from ``d``'s current atom: owed by
        the last closure, or (with the rule on and no ring to split) the end of an open
        kekule benzene (:meth:`Derivation.benzene_partner`); None if none."""
        if d.owed is not None:
            return d.owed
        if self.close_benzenes and not fixing:
            return d.benzene_partner(d.frames[-1].prev)
        return None

    def _completes(self, check: _Targets, prefix: int, left: int) -> bool:
        """Whether the ring index ``prefix`` followed by ``left`` more index symbols can
        still close an allowed ring. Values past the current atom's index all close to
        atom 0, so the scan stops at the first of them."""
        i = check.d.frames[-1].prev
        base = prefix * 16 ** left
        for rest in self.reachable[left]:
            if check.ok(check.d.target(base + rest)):
                return True
            if base + rest + 1 >= i:
                return False
        return False


class _Targets:
    """Which ring targets are allowed from the current atom of one derivation (the
    distances are computed once, when first needed). ``room``: whether the current
    frame can read one more symbol after this ring's index (a branch that ends there
    moves the derivation to another atom, where no closure can split this ring).
    ``partner``: the atom a benzene waits to be closed to (:meth:`RingGuard._partner`)."""

    def __init__(self, d: Derivation, max_ring: int, fixing: bool, room: bool,
                 partner: int | None = None) -> None:
        self.d, self.max_ring, self.fixing, self.room = d, max_ring, fixing, room
        self.i = d.frames[-1].prev
        self.partner = partner
        self.memo: dict[int, bool] = {}
        self._dist: list[int] | None = None

    @property
    def dist(self) -> list[int]:
        if self._dist is None:
            self._dist = self.d.distances(self.i)
        return self._dist

    def ok(self, j: int) -> bool:
        if j not in self.memo:
            self.memo[j] = self._ok(j)
        return self.memo[j]

    def _ok(self, j: int) -> bool:
        d, i, limit = self.d, self.i, self.max_ring
        partner = self.partner
        if partner is not None and (j == partner or d.owed is not None):
            return j == partner  # a kekule benzene waits for its last bond
        if i == j or d.free(j) <= 0 or d.free(i) <= 0 or j in d.adj[i]:
            return not self.fixing and partner is None  # no new ring: splits nothing
        if partner is not None and (not self.room or d.free(i) < 2):
            return False  # a ring elsewhere first (c12) leaves no room for the benzene's
        if self.fixing:  # j must split the ring the last closure i-b made
            b = d.group[-1][1]
            return split_size(d.last, d.distances(i, skip=(i, b))[j],
                              d.distances(b, skip=(i, b))[j]) <= limit
        if self.dist[j] + 1 <= limit:
            return True
        return self._splittable(j)

    def _splittable(self, j: int) -> bool:
        """Whether one more ring from the current atom i (to some k) can split the ring
        the closure to j makes, so that both rings the pair adds are within the limit."""
        d, i, limit = self.d, self.i, self.max_ring
        state = d.frames[-1].state  # already lowered by the pending ring symbol
        if not self.room or not state or d.free(i) <= 1:
            return False
        from_j = d.distances(j)
        first = self.dist[j] + 1
        return any(k != j and d.free(k) > 0 and k not in d.adj[i]
                   and split_size(first, self.dist[k], from_j[k]) <= limit
                   for k in range(i))
