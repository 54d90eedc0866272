"""The town's traffic: conversations inside each community, and one busy
community that carries a given share of the sends (bench/production.py)."""

from __future__ import annotations

import random
from collections.abc import Sequence

from bench.loadgen import Load
from bench.residents import Resident, Target

Pair = tuple[str, tuple[str, ...]]


def town_pairs(
    town: dict[str, list[str]], *, fanout: int, senders: int, seed: int
) -> list[Pair]:
    """Conversations inside each community, community by community in the
    order of `town` (the first is the busy one): `senders` per community,
    each with `fanout` other members of the sender's community."""
    rng = random.Random(seed)
    pairs = []
    for members in town.values():
        for sender in members[:senders]:
            others = [name for name in members if name != sender]
            pairs.append((sender, tuple(sorted(rng.sample(others, fanout)))))
    return pairs


def skewed_index(rng: random.Random, *, hot: int, total: int, share: float) -> int:
    """An index into `total` conversations whose first `hot` carry `share` of
    the picks; the others are picked uniformly."""
    if hot >= total or rng.random() < share:
        return rng.randrange(hot)
    return rng.randrange(hot, total)


class TownLoad(Load):
    """Residents of many communities; one community carries `share` of sends."""

    def __init__(
        self,
        target: Target,
        residents: dict[str, Resident],
        *,
        town: dict[str, list[str]],
        senders: int,
        share: float,
    ) -> None:
        super().__init__(target, residents)
        # Only residents whose socket opened take part.
        self.town = {
            slug: [name for name in members if name in residents]
            for slug, members in town.items()
        }
        self.senders, self.share = senders, share
        self.hot: dict[int, int] = {}

    def conversations_for(self, fanout: int) -> list[Pair]:
        if fanout not in self.conversations:
            pairs = town_pairs(
                self.town, fanout=fanout, senders=self.senders, seed=self.seed + fanout
            )
            self.conversations[fanout] = pairs
            first = next(iter(self.town.values()))
            self.hot[fanout] = min(self.senders, len(first))
        return self.conversations[fanout]

    def pick(self, fanout: int, pairs: Sequence[Pair]) -> Pair:
        index = skewed_index(
            self.rng, hot=self.hot[fanout], total=len(pairs), share=self.share
        )
        return pairs[index]
