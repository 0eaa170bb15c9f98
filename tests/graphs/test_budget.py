"""Direct tests of the per-problem budgets (`graphs/budget.py`) and of per-call seeds (`steps.derive_seed`).

The graph tests exercise these through whole runs; here each rule is pinned on
its own: what is left of each budget, when a problem is out of budget, how a
request is clamped to fit both budgets, the recursion limit, and how a call's
seed derives from the run's base seed.
"""

from __future__ import annotations

import itertools

import pytest
from pydantic import ValidationError

from verbalrl.graphs import SingleConfig
from verbalrl.graphs.budget import budget_exhausted, calls_left, clamp, graph_options, tokens_left
from verbalrl.graphs.steps import derive_seed

NO_CAPS = SingleConfig(max_llm_calls=None, max_tokens=None)


def _state(calls: int = 0, tokens: int = 0) -> dict[str, int]:
    return {"llm_calls": calls, "generated_tokens": tokens}


# ------------------------------------------------------------------ calls_left / tokens_left


def test_no_caps_leave_none() -> None:
    assert calls_left(_state(10_000, 10_000), NO_CAPS) is None
    assert tokens_left(_state(10_000, 10_000), NO_CAPS) is None


def test_left_is_the_cap_minus_what_was_spent() -> None:
    config = SingleConfig(max_llm_calls=10, max_tokens=100)
    assert calls_left(_state(3, 40), config) == 7
    assert tokens_left(_state(3, 40), config) == 60


def test_missing_counters_count_as_zero_spent() -> None:
    config = SingleConfig(max_llm_calls=10, max_tokens=100)
    assert calls_left({}, config) == 10
    assert tokens_left({}, config) == 100


def test_overspending_leaves_zero_never_a_negative() -> None:
    # A node may overshoot (e.g. the verifier's tokens arrive after the fact).
    config = SingleConfig(max_llm_calls=5, max_tokens=50)
    assert calls_left(_state(9, 0), config) == 0
    assert tokens_left(_state(0, 80), config) == 0


# ------------------------------------------------------------------ budget_exhausted


def test_budget_exhausted_when_either_budget_is_used_up() -> None:
    config = SingleConfig(max_llm_calls=4, max_tokens=100)
    assert not budget_exhausted(_state(3, 99), config)
    assert budget_exhausted(_state(4, 0), config)
    assert budget_exhausted(_state(0, 100), config)
    assert budget_exhausted(_state(7, 500), config)


def test_budget_never_exhausted_without_caps() -> None:
    assert not budget_exhausted(_state(10**9, 10**9), NO_CAPS)


def test_one_uncapped_budget_does_not_hide_the_other() -> None:
    # tokens uncapped (None) must not count as "0 left", and must not mask the call cap.
    config = SingleConfig(max_llm_calls=2, max_tokens=None)
    assert not budget_exhausted(_state(1, 10**9), config)
    assert budget_exhausted(_state(2, 0), config)


# ------------------------------------------------------------------ clamp


def test_clamp_without_caps_returns_the_request() -> None:
    assert clamp(_state(100, 100_000), NO_CAPS, 4, 256) == (4, 256)


def test_clamp_reduces_n_to_the_calls_left() -> None:
    config = SingleConfig(max_llm_calls=5, max_tokens=None)
    assert clamp(_state(3), config, 4, 256) == (2, 256)
    assert clamp(_state(0), config, 4, 256) == (4, 256)  # a cap above the request changes nothing


def test_clamp_splits_the_token_budget_evenly_across_sequences() -> None:
    config = SingleConfig(max_llm_calls=None, max_tokens=100)
    assert clamp(_state(tokens=0), config, 4, 256) == (4, 25)
    assert clamp(_state(tokens=60), config, 4, 256) == (4, 10)
    # a token budget larger than n * max_new_tokens leaves max_new_tokens alone
    assert clamp(_state(tokens=0), config, 2, 30) == (2, 30)


def test_clamp_token_budget_smaller_than_n_gives_fewer_one_token_sequences() -> None:
    config = SingleConfig(max_llm_calls=None, max_tokens=100)
    assert clamp(_state(tokens=97), config, 8, 256) == (3, 1)
    # exactly n tokens left: every sequence keeps one token
    assert clamp(_state(tokens=96), config, 4, 256) == (4, 1)


def test_clamp_with_nothing_left_asks_for_no_sequence() -> None:
    calls_cap = SingleConfig(max_llm_calls=3, max_tokens=None)
    tokens_cap = SingleConfig(max_llm_calls=None, max_tokens=50)
    assert clamp(_state(calls=3), calls_cap, 4, 256)[0] == 0
    assert clamp(_state(tokens=50), tokens_cap, 4, 256)[0] == 0
    assert clamp(_state(tokens=80), tokens_cap, 4, 256)[0] == 0  # overspent


def test_clamp_applies_the_call_cap_before_splitting_tokens() -> None:
    # 2 calls left, so the 40 tokens are shared by 2 sequences, not the 8 wanted.
    config = SingleConfig(max_llm_calls=10, max_tokens=100)
    assert clamp(_state(calls=8, tokens=60), config, 8, 256) == (2, 20)


def test_clamp_never_exceeds_either_budget() -> None:
    """Property over a grid: n fits the calls left and n * max_new_tokens fits the tokens left."""
    config = SingleConfig(max_llm_calls=12, max_tokens=200)
    for calls, tokens, want, max_new in itertools.product(
        range(0, 14, 3), range(0, 210, 7), (1, 2, 5, 16), (1, 7, 64, 256)
    ):
        state = _state(calls, tokens)
        n, per_seq = clamp(state, config, want, max_new)
        left_calls, left_tokens = calls_left(state, config), tokens_left(state, config)
        assert left_calls is not None and left_tokens is not None
        assert 0 <= n <= min(want, left_calls), (state, want, max_new, n)
        assert 1 <= per_seq <= max_new, (state, want, max_new, per_seq)
        assert n * per_seq <= left_tokens, (state, want, max_new, n, per_seq)
        if left_calls and left_tokens:
            assert n >= 1  # anything left: at least one sequence is still allowed


# ------------------------------------------------------------------ graph_options


def test_graph_options_recursion_limit_grows_with_max_rounds() -> None:
    limits = [graph_options(SingleConfig(max_rounds=r))["recursion_limit"] for r in (1, 2, 3, 10, 100)]
    assert limits == sorted(limits) and len(set(limits)) == len(limits)
    # a round of any graph takes a handful of steps: the limit leaves room for several per round
    for rounds, limit in zip((1, 2, 3, 10, 100), limits, strict=True):
        assert limit >= 4 * rounds + 1
    # LangGraph's own default is 25; one round must not need less than that
    assert limits[0] >= 25


def test_budgets_reject_non_positive_caps() -> None:
    with pytest.raises(ValidationError, match="max_llm_calls"):
        SingleConfig(max_llm_calls=0)
    with pytest.raises(ValidationError, match="max_tokens"):
        SingleConfig(max_tokens=0)


# ------------------------------------------------------------------ derive_seed


def test_derive_seed_without_a_base_seed_stays_none() -> None:
    assert derive_seed(None, "p1/solve") is None
    assert derive_seed(None, "") is None


def test_derive_seed_with_empty_salt_returns_the_base_seed() -> None:
    assert derive_seed(1234, "") == 1234
    assert derive_seed(0, "") == 0


def test_derive_seed_is_deterministic() -> None:
    assert derive_seed(7, "p1/solve") == derive_seed(7, "p1/solve")


def test_derive_seed_zero_is_a_real_seed() -> None:
    # 0 is falsy; it must still derive a per-call seed rather than pass through as "no seed".
    assert derive_seed(0, "p1/solve") is not None
    assert derive_seed(0, "p1/solve") != derive_seed(0, "p2/solve")


def test_different_salts_give_different_seeds() -> None:
    salts = [f"problem-{i}/{step}/{r}" for i in range(20) for step in ("solve", "critique") for r in range(3)]
    seeds = {derive_seed(42, salt) for salt in salts}
    assert len(seeds) == len(salts)
    assert 42 not in seeds  # a salted call does not reuse the base seed


def test_different_base_seeds_give_different_seeds() -> None:
    seeds = {derive_seed(base, "p1/solve") for base in range(100)}
    assert len(seeds) == 100


def test_derived_seed_fits_in_32_bits() -> None:
    for base, salt in itertools.product((0, 1, -5, 2**40, 2**63 - 1), ("a", "p1/solve", "x" * 500)):
        seed = derive_seed(base, salt)
        assert isinstance(seed, int) and 0 <= seed < 2**32
