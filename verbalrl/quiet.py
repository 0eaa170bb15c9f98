"""Quiet model loading: no per-load progress bars or library deprecation noise on the user's terminal.

transformers 5 draws a "Loading weights" bar on every `from_pretrained`
(sentence-transformers included), and PEFT and TRL read the deprecated
`is_gradient_checkpointing` property, which warns on each call. verbalrl's
own calls use the current names (`cache=`, `is_activation_checkpointing`); what
the libraries do inside is silenced only around verbalrl's loads and training
runs, and the previous settings come back afterwards, so a user's own
`from_pretrained` calls are untouched. A long job keeps one progress bar of its own.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

# Messages of deprecations raised inside libraries verbalrl calls (not by verbalrl's own code).
LIBRARY_DEPRECATIONS = (r"`is_gradient_checkpointing` is deprecated",)


@contextmanager
def quiet_deprecations() -> Iterator[None]:
    """Within the block: the known deprecations raised inside libraries are hidden (training runs)."""
    with warnings.catch_warnings():
        for message in LIBRARY_DEPRECATIONS:
            warnings.filterwarnings("ignore", message=message, category=FutureWarning)
        yield


@contextmanager
def quiet_loading() -> Iterator[None]:
    """Within the block: transformers' progress bars off and the libraries' known deprecations hidden."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        with quiet_deprecations():
            yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()
