"""Best-of-N evaluation of verifiers and baselines over one shared candidate pool.

In scope: `evaluate_pool`, which scores every candidate once per verifier,
then for each N draws subsets of N candidates per problem and reports, for
every method, the accuracy with a 95% bootstrap interval over problems and
the compute it used; plus each verifier's ROC AUC and the share of the
first-sample to Pass@N gap it closes. The result is an `EvalReport`
(pydantic, JSON-ready). Left out: writing files and tables (`report.py`,
`plot.py`), the selection rules themselves (`selection.py`).

How subsets are drawn: per problem and N, each of `draws` seeded shuffles of
the problem's M candidates is cut into floor(M/N) disjoint blocks of N, and
every method is scored on the same blocks. Ties (equal top scores, equally
voted answers) count as the expected result of a uniform random pick among
the tied candidates, so no method gains from candidate order. With these two
rules a constant verifier scores exactly the per-sample accuracy, and the
oracle checker exactly Pass@N. "First sample" is the expected accuracy of one
sample: the mean correctness of the problem's candidates (the same for every N).

Compute, per problem (averaged): generating the N candidates costs N LLM
calls and their completion tokens (from the pool); a verifier adds its own
`Usage` on the problem's M candidates, pro-rated to N/M.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from ..selection import best_of_n_ties, vote_winners
from ..verifier.base import Usage, Verifier
from .metrics import bootstrap_ci, gap_closed, roc_auc
from .pool import PoolStats, ProblemCandidates, pool_stats

MethodKind = Literal["first_sample", "self_consistency", "pass@n", "best_of_n", "weighted_sc"]

DEFAULT_NS: tuple[int, ...] = (1, 2, 4, 8, 16)


class MethodResult(BaseModel):
    """Accuracy and compute of one method at one N (compute is per problem, averaged)."""

    label: str = Field(description="e.g. 'self_consistency' or 'best_of_n[genrm]'")
    method: MethodKind
    verifier: str | None = None
    n: int
    accuracy: float
    ci_low: float
    ci_high: float
    llm_calls: float = Field(description="generation + verification sequences per problem")
    generated_tokens: float = Field(description="candidate + verifier generated tokens per problem")
    prompt_tokens: float = Field(description="candidate + verifier prompt tokens per problem")
    gap_closed: float | None = Field(
        None, description="(acc - first_sample) / (pass@n - first_sample); verifier methods only"
    )


class VerifierSummary(BaseModel):
    """A verifier's discrimination (AUC over all candidates) and its total cost on the pool."""

    name: str
    auc: float | None = Field(description="ROC AUC of scores vs correctness; None if undefined")
    mean_score_correct: float | None
    mean_score_wrong: float | None
    llm_calls: int
    prompt_tokens: int
    generated_tokens: int
    seconds: float = Field(description="wall-clock time spent scoring the whole pool")


class EvalReport(BaseModel):
    """Everything `evaluate_pool` measured; `results` holds one row per (method, N)."""

    ns: list[int]
    skipped_ns: list[int] = Field(description="requested N larger than some problem's pool")
    draws: int
    bootstrap: int
    seed: int
    pool: PoolStats
    results: list[MethodResult]
    verifiers: list[VerifierSummary]

    def labels(self) -> list[str]:
        """Method labels in report order."""
        seen: dict[str, None] = {}
        for r in self.results:
            seen.setdefault(r.label, None)
        return list(seen)

    def result(self, label: str, n: int) -> MethodResult:
        for r in self.results:
            if r.label == label and r.n == n:
                return r
        raise KeyError(f"no result for {label!r} at N={n}")


@dataclass
class _Scored:
    """One verifier's scores for every problem (same order as the groups) and its usage."""

    scores: list[list[float]]
    usage: list[Usage]
    seconds: float


def _score_all(
    name: str, verifier: Verifier, groups: Sequence[ProblemCandidates], tick: Callable[[], None]
) -> _Scored:
    scores, usages = [], []
    start = time.perf_counter()
    for group in groups:
        verification = verifier.verify(group.problem, group.texts)
        values = [float(s) for s in verification.scores]
        if len(values) != len(group.candidates):
            raise ValueError(
                f"verifier {name!r} returned {len(values)} scores for "
                f"{len(group.candidates)} candidates of problem {group.problem.id!r}"
            )
        if any(math.isnan(v) for v in values):
            raise ValueError(f"verifier {name!r} returned NaN for problem {group.problem.id!r}")
        scores.append(values)
        usages.append(verification.usage)
        tick()
    return _Scored(scores, usages, time.perf_counter() - start)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _value_of_answers(winners: list[str], subset: list[int], group: ProblemCandidates) -> float:
    """Expected correctness of a uniform pick among the winning answers (0 if none)."""
    if not winners:
        return 0.0
    per_answer = []
    for answer in winners:
        picked = [group.candidates[i] for i in subset]
        per_answer.append(_mean([float(c.correct) for c in picked if c.normalized == answer]))
    return _mean(per_answer)


def _blocks(m: int, n: int, draws: int, rng: random.Random) -> list[list[int]]:
    """Disjoint blocks of n indices out of m, from `draws` shuffles (one when n == m)."""
    out: list[list[int]] = []
    for _ in range(1 if n == m else draws):
        order = list(range(m))
        rng.shuffle(order)
        out.extend(order[k : k + n] for k in range(0, m - n + 1, n))
    return out


Cost = tuple[float, float, float]  # (LLM calls, generated tokens, prompt tokens) per problem


def _evaluate_problem(
    p: int,
    group: ProblemCandidates,
    n: int,
    kinds: Mapping[str, tuple[MethodKind, str | None]],
    scored: Mapping[str, _Scored],
    blocks: list[list[int]],
) -> tuple[dict[str, float], dict[str, Cost]]:
    """Every method's accuracy (averaged over blocks) and compute on problem `p` at this N."""
    cands = group.candidates
    m = len(cands)
    correct = [float(c.correct) for c in cands]
    answers = group.answers
    sums: dict[str, list[float]] = {label: [] for label in kinds}
    for block in blocks:
        sub_answers = [answers[i] for i in block]
        sums["pass@n"].append(float(any(correct[i] for i in block)))
        sums["self_consistency"].append(_value_of_answers(vote_winners(sub_answers), block, group))
        for name, s in scored.items():
            sub_scores = [s.scores[p][i] for i in block]
            ties = best_of_n_ties(sub_scores)
            sums[f"best_of_n[{name}]"].append(_mean([correct[block[t]] for t in ties]))
            winners = vote_winners(sub_answers, sub_scores)
            sums[f"weighted_sc[{name}]"].append(_value_of_answers(winners, block, group))
    sums["first_sample"] = [_mean(correct)]  # exact expectation of one sample's correctness

    sampling: Cost = (
        float(n),
        _mean([sum(cands[i].completion_tokens for i in b) for b in blocks]),
        _mean([sum(cands[i].prompt_tokens for i in b) for b in blocks]),
    )
    one_sample: Cost = (
        1.0,
        _mean([c.completion_tokens for c in cands]),
        _mean([c.prompt_tokens for c in cands]),
    )
    values: dict[str, float] = {}
    costs: dict[str, Cost] = {}
    for label, (kind, verifier) in kinds.items():
        values[label] = _mean(sums[label])
        cost = one_sample if kind == "first_sample" else sampling
        if verifier is not None:
            usage = scored[verifier].usage[p]
            share = n / m  # the verifier scored all m candidates; N of them are used
            cost = (
                cost[0] + usage.llm_calls * share,
                cost[1] + usage.generated_tokens * share,
                cost[2] + usage.prompt_tokens * share,
            )
        costs[label] = cost
    return values, costs


def _check_ns(
    ns: Sequence[int], groups: Sequence[ProblemCandidates]
) -> tuple[list[int], list[int]]:
    wanted = sorted(set(int(n) for n in ns))
    if not wanted:
        raise ValueError("ns is empty: give at least one N, e.g. 1,2,4,8,16")
    if wanted[0] < 1:
        raise ValueError(f"every N must be >= 1, got {wanted[0]}")
    smallest = min(len(g.candidates) for g in groups)
    kept = [n for n in wanted if n <= smallest]
    if not kept:
        raise ValueError(
            f"every N in {wanted} exceeds the smallest pool ({smallest} candidates for a problem)"
        )
    return kept, [n for n in wanted if n > smallest]


def evaluate_pool(
    groups: Sequence[ProblemCandidates],
    methods: Mapping[str, Verifier],
    ns: Sequence[int] = DEFAULT_NS,
    bootstrap: int = 1000,
    seed: int = 0,
    *,
    draws: int = 8,
    progress: bool = False,
) -> EvalReport:
    """Best-of-N accuracy, bootstrap CIs, compute and AUC for baselines and every verifier.

    `methods` maps a display name to a verifier; each verifier's `verify` is
    called once per problem on all its candidates and the scores are reused
    for every N and draw. N larger than some problem's pool is skipped (listed
    in `skipped_ns`).
    """
    groups = list(groups)
    if not groups:
        raise ValueError("no problems to evaluate: the candidate pool is empty")
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    if bootstrap < 1:
        raise ValueError(f"bootstrap must be >= 1 resamples, got {bootstrap}")
    kept, skipped = _check_ns(ns, groups)
    scored = _score_verifiers(groups, methods, progress)

    per_problem: dict[tuple[str, int], list[float]] = {}
    compute: dict[tuple[str, int], list[Cost]] = {}
    kinds: dict[str, tuple[MethodKind, str | None]] = {
        "first_sample": ("first_sample", None),
        "self_consistency": ("self_consistency", None),
        "pass@n": ("pass@n", None),
    }
    for name in scored:
        kinds[f"best_of_n[{name}]"] = ("best_of_n", name)
        kinds[f"weighted_sc[{name}]"] = ("weighted_sc", name)

    for p, group in enumerate(groups):
        for n in kept:
            rng = random.Random(f"{seed}:{p}:{n}")
            blocks = _blocks(len(group.candidates), n, draws, rng)
            values, costs = _evaluate_problem(p, group, n, kinds, scored, blocks)
            for label in kinds:
                per_problem.setdefault((label, n), []).append(values[label])
                compute.setdefault((label, n), []).append(costs[label])

    results = []
    for label, (kind, verifier) in kinds.items():
        for n in kept:
            accs = per_problem[(label, n)]
            # Same seed for every method: CIs resample the same problems (paired comparison).
            low, high = bootstrap_ci(accs, bootstrap, seed)
            spent = compute[(label, n)]
            results.append(
                MethodResult(
                    label=label,
                    method=kind,
                    verifier=verifier,
                    n=n,
                    accuracy=_mean(accs),
                    ci_low=low,
                    ci_high=high,
                    llm_calls=_mean([c[0] for c in spent]),
                    generated_tokens=_mean([c[1] for c in spent]),
                    prompt_tokens=_mean([c[2] for c in spent]),
                )
            )
    _fill_gap_closed(results)
    records = [c for g in groups for c in g.candidates]
    return EvalReport(
        ns=kept,
        skipped_ns=skipped,
        draws=draws,
        bootstrap=bootstrap,
        seed=seed,
        pool=pool_stats(records),
        results=results,
        verifiers=[_summary(name, s, groups) for name, s in scored.items()],
    )


def _score_verifiers(
    groups: Sequence[ProblemCandidates], methods: Mapping[str, Verifier], progress: bool
) -> dict[str, _Scored]:
    reserved = {"first_sample", "self_consistency", "pass@n"}
    for name in methods:
        if not name or name in reserved:
            raise ValueError(f"verifier name {name!r} is empty or clashes with a baseline")
    from ..console import progress_bar

    out: dict[str, _Scored] = {}
    for name, verifier in methods.items():
        label = f"scoring with {name}"
        with progress_bar(label, len(groups), enabled=progress, transient=True, stderr=True) as advance:
            out[name] = _score_all(name, verifier, groups, advance)
    return out


def _fill_gap_closed(results: list[MethodResult]) -> None:
    base = {(r.label, r.n): r.accuracy for r in results if r.verifier is None}
    for r in results:
        if r.verifier is not None:
            first, oracle = base[("first_sample", r.n)], base[("pass@n", r.n)]
            r.gap_closed = gap_closed(r.accuracy, first, oracle)


def _summary(name: str, s: _Scored, groups: Sequence[ProblemCandidates]) -> VerifierSummary:
    flat = [v for row in s.scores for v in row]
    labels = [c.correct for g in groups for c in g.candidates]
    right = [v for v, y in zip(flat, labels, strict=True) if y]
    wrong = [v for v, y in zip(flat, labels, strict=True) if not y]
    total = Usage()
    for u in s.usage:
        total = total.add(u)
    return VerifierSummary(
        name=name,
        auc=roc_auc(flat, labels),
        mean_score_correct=_mean(right) if right else None,
        mean_score_wrong=_mean(wrong) if wrong else None,
        llm_calls=total.llm_calls,
        prompt_tokens=total.prompt_tokens,
        generated_tokens=total.generated_tokens,
        seconds=s.seconds,
    )
