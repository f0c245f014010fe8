"""From trials to work units: which networks train together, and in what order.

1. Trials that differ only in ``fit.epochs`` become one :class:`~scratchnn.sweep.engine.Member`
   with a checkpoint per epoch count.
2. Members with equal :func:`~scratchnn.sweep.population.population_key` (same data set, layer
   stack, loss, optimizer class, batch size) may share a population. Within such a group the
   members are sorted by their hidden widths and cut into consecutive populations so that the
   estimated time is least: padding a 1-unit network to 50 units costs 50 times its arithmetic,
   while every extra population costs a fixed overhead per step (:func:`estimate_seconds`).
3. Members the population engine cannot train (other layers, regularizers, other losses) become
   one-member units for :func:`~scratchnn.sweep.engine.train_sequential`.
4. The longest units are split in two while that shortens the estimated finishing time on the
   workers, and units run longest first, so that the slowest does not start last.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeAlias

from scratchnn.sweep.engine import (
    Checkpoint,
    Emit,
    Member,
    StopTraining,
    canonical_json,
    load_split,
    train_sequential,
)
from scratchnn.sweep.spec import Trial

STEP_OVERHEAD = {"population": 70e-6, "sequential": 130e-6}
"""Estimated fixed seconds per training step (Python and NumPy call overhead)."""
MEMBER_OVERHEAD = 6e-6
"""Estimated seconds per population member per step (one small BLAS call per member and op)."""
ELEMENT_SECONDS = {"population": 0.58e-9, "sequential": 3.0e-9}
"""Estimated seconds per activation entry per step (units x rows, fan-in weighted). The
constants were fitted on tutorial 000's populations on a two-core x86 machine; they only guide
grouping, ordering and the progress bar's ETA."""
SPLIT_CANDIDATES = 4
"""How many of the longest units :func:`_balance` considers splitting together, per round."""
MAX_MEMBERS = 64
"""Largest population; bigger groups are split (memory grows with members x units x rows)."""


@dataclasses.dataclass
class WorkUnit:
    """A piece of work for one worker: a population, or members trained one at a time.

    Attributes:
        id: a short name, unique within a run.
        engine: ``"population"`` or ``"sequential"``.
        members: the networks to train.
        seconds: the estimated time (the progress bar's measure of work).
    """

    id: str
    engine: str
    members: list[Member]
    seconds: float

    @property
    def trial_keys(self) -> list[str]:
        """The trials this unit records."""
        return [c.trial_key for m in self.members for c in m.checkpoints]


def members_of(trials: Sequence[Trial], history_points: int) -> list[Member]:
    """Group trials that differ only in ``fit.epochs`` into members with checkpoints."""
    groups: dict[str, list[Trial]] = {}
    for trial in trials:
        config = dict(trial.config)
        config["fit"] = {k: v for k, v in config["fit"].items() if k != "epochs"}
        groups.setdefault(canonical_json(config), []).append(trial)
    members = []
    for group in groups.values():
        checkpoints = sorted(
            (Checkpoint(t.key, int(t.config["fit"]["epochs"])) for t in group),
            key=lambda c: c.epochs,
        )
        epochs = [c.epochs for c in checkpoints]
        if len(set(epochs)) != len(epochs):  # equal configs (only the key differs): apart
            members += [Member(t.config, (Checkpoint(t.key, t.config["fit"]["epochs"]),),
                               history_points) for t in group]
            continue
        members.append(Member(group[0].config, tuple(checkpoints), history_points))
    return members


def _shape(member: Member, input_dim: int) -> tuple[list[int], list[int]]:
    """``(units per layer, inputs per layer)`` of a member's network."""
    units = [int(layer.get("units", 1)) for layer in member.config["model"]["layers"]]
    return units, [input_dim, *units[:-1]]


def _rows(member: Member) -> tuple[int, int]:
    """``(rows per step, steps per epoch)`` of a member's training."""
    x_train = load_split(member.config["data"])[0]
    n = len(x_train)
    batch = member.config["fit"].get("batch_size")
    b = n if batch is None else min(int(batch), n)
    return b, math.ceil(n / b)


def estimate_seconds(engine: str, members: Sequence[Member]) -> float:
    """Estimated training time of members in one unit (padded widths for a population)."""
    if not members:
        return 0.0
    input_dim = load_split(members[0].config["data"])[0].shape[1]
    overhead, per_element = STEP_OVERHEAD[engine], ELEMENT_SECONDS[engine]
    if engine == "sequential":
        total = 0.0
        for m in members:
            b, steps = _rows(m)
            units, ins = _shape(m, input_dim)
            elements = b * sum(u * (1 + d / 16) for u, d in zip(units, ins, strict=True))
            total += m.max_epochs * steps * (overhead + per_element * elements)
        return total
    shapes = [_shape(m, input_dim) for m in members]
    widths = [max(s[0][i] for s in shapes) for i in range(len(shapes[0][0]))]
    ins = [input_dim, *widths[:-1]]
    per_member = sum(u * (1 + d / 16) for u, d in zip(widths, ins, strict=True))
    b, steps = _rows(members[0])
    member_epochs = sum(m.max_epochs for m in members)
    return steps * (overhead * max(m.max_epochs for m in members)
                    + (MEMBER_OVERHEAD + per_element * b * per_member) * member_epochs)


def _partition(members: list[Member]) -> list[list[Member]]:
    """Cut members sorted by width into consecutive populations of least estimated time."""
    by_shape: dict[str, list[Member]] = {}
    for m in members:
        units = [layer.get("units") for layer in m.config["model"]["layers"]]
        by_shape.setdefault(canonical_json(units), []).append(m)
    groups = sorted(by_shape.values(),
                    key=lambda g: sum(layer.get("units", 1)
                                      for layer in g[0].config["model"]["layers"]))
    if len(groups) > 200:  # keep the search small: merge neighbours first
        size = math.ceil(len(groups) / 200)
        groups = [[m for g in groups[i:i + size] for m in g]
                  for i in range(0, len(groups), size)]
    n = len(groups)
    best = [0.0] + [math.inf] * n
    cut = [0] * (n + 1)
    for end in range(1, n + 1):
        for start in range(end):
            cost = best[start] + estimate_seconds(
                "population", [m for g in groups[start:end] for m in g])
            if cost < best[end]:
                best[end], cut[end] = cost, start
    parts, end = [], n
    while end > 0:
        start = cut[end]
        parts.append([m for g in groups[start:end] for m in g])
        end = start
    return parts[::-1]


Engine: TypeAlias = Literal["auto", "population", "sequential"]
"""How trials train: populations where possible (``"auto"``), always, or never
(``"sequential"``: every trial with ``Sequential.fit``)."""


def plan(trials: Sequence[Trial], history_points: int, workers: int = 1,
         engine: Engine = "auto", max_members: int = MAX_MEMBERS) -> list[WorkUnit]:
    """Work units for ``trials``, longest first.

    Args:
        trials: the trials to run (already recorded ones left out).
        history_points: history rows kept per trial.
        workers: how many units may run at once; big units are split until there are at least
            this many (when they have members to split).
        engine: ``"auto"`` (populations where possible), ``"population"`` (an error where not
            possible) or ``"sequential"`` (every member alone with ``Sequential.fit``).
        max_members: the largest population.

    Raises:
        ValueError: ``engine="population"`` with a trial it cannot train (the reason is named).
    """
    from scratchnn.sweep.population import population_key, unsupported_reason

    if engine not in ("auto", "population", "sequential"):
        raise ValueError(f"engine must be 'auto', 'population' or 'sequential'; received "
                         f"{engine!r}.")
    members = members_of(trials, history_points)
    groups: dict[str, list[Member]] = {}
    alone: list[Member] = []
    for m in members:
        key = None if engine == "sequential" else population_key(m.config)
        if key is None:
            if engine == "population":
                raise ValueError(f"engine='population' cannot train trial "
                                 f"{m.checkpoints[0].trial_key!r}: "
                                 f"{unsupported_reason(m.config)}.")
            alone.append(m)
        else:
            groups.setdefault(key, []).append(m)
    parts: list[tuple[str, list[Member]]] = []
    for group in groups.values():
        for part in _partition(group):
            for i in range(0, len(part), max_members):
                parts.append(("population", part[i:i + max_members]))
    parts += [("sequential", [m]) for m in alone]
    parts = _balance(parts, workers)
    units = []
    for engine_name, ms in parts:
        keys = ",".join(c.trial_key for m in ms for c in m.checkpoints)
        digest = hashlib.sha256(keys.encode()).hexdigest()[:8]
        units.append(WorkUnit(f"{engine_name[:3]}-{digest}", engine_name, ms,
                              estimate_seconds(engine_name, ms)))
    units.sort(key=lambda u: -u.seconds)
    return units


def makespan(costs: Sequence[float], workers: int) -> float:
    """Finishing time of ``costs`` run longest first, each on the first free worker."""
    loads = [0.0] * max(1, workers)
    for cost in sorted(costs, reverse=True):
        loads[loads.index(min(loads))] += cost
    return max(loads)


def _balance(parts: list[tuple[str, list[Member]]], workers: int
             ) -> list[tuple[str, list[Member]]]:
    """Split long units in two while that shortens the estimated finishing time.

    A population split in two pays its per-step overhead twice but lets two workers share it;
    members are dealt alternately (they are sorted by width), so both halves pad alike. Each
    round tries splitting every combination of the few longest units (splitting one alone may
    not help until another is split too) and keeps the best, while it gains at least 1 %.
    """
    costs = [estimate_seconds(engine, ms) for engine, ms in parts]
    best = makespan(costs, workers)
    while True:
        order = sorted(range(len(parts)), key=lambda i: -costs[i])
        candidates = [i for i in order if len(parts[i][1]) > 1][:SPLIT_CANDIDATES]
        halves = {
            i: [(parts[i][0], parts[i][1][0::2]), (parts[i][0], parts[i][1][1::2])]
            for i in candidates
        }
        half_costs = {i: [estimate_seconds(e, h) for e, h in halves[i]] for i in candidates}
        chosen, chosen_span = None, best * 0.99
        for mask in range(1, 1 << len(candidates)):
            split = {candidates[b] for b in range(len(candidates)) if mask >> b & 1}
            trial = [c for i, c in enumerate(costs) if i not in split]
            trial += [c for i in split for c in half_costs[i]]
            span = makespan(trial, workers)
            if span < chosen_span:
                chosen, chosen_span = split, span
        if chosen is None:
            return parts
        parts = [p for i, p in enumerate(parts) if i not in chosen] + [
            h for i in sorted(chosen) for h in halves[i]]
        costs = [c for i, c in enumerate(costs) if i not in chosen] + [
            c for i in sorted(chosen) for c in half_costs[i]]
        best = chosen_span


def run_unit(unit: WorkUnit, emit: Emit, should_stop: Callable[[], bool] | None = None) -> None:
    """Train a unit, emitting ``("result", TrialResult)`` per trial and ``("progress",
    fraction of the unit done)``."""
    if unit.engine == "population":
        from scratchnn.sweep import population

        population.train(unit.members, emit, should_stop)
        return
    count = len(unit.members)
    for i, member in enumerate(unit.members):
        def member_emit(kind: str, payload: Any, i: int = i, member: Member = member) -> None:
            if kind == "progress":
                emit("progress", (i + min(1.0, payload / member.max_epochs)) / count)
            else:
                emit(kind, payload)

        train_sequential(member, member_emit, should_stop)
        emit("progress", (i + 1) / count)


def parent_watch(parent_pid: int) -> Callable[[], bool]:
    """A ``should_stop`` for a worker process: true once its parent process has died."""
    def should_stop() -> bool:
        return os.getppid() != parent_pid

    return should_stop


__all__ = [
    "ELEMENT_SECONDS",
    "MAX_MEMBERS",
    "MEMBER_OVERHEAD",
    "STEP_OVERHEAD",
    "StopTraining",
    "WorkUnit",
    "estimate_seconds",
    "makespan",
    "members_of",
    "plan",
    "run_unit",
]
