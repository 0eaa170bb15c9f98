"""How many CPU threads torch uses, chosen so a busy machine slows verbalrl down gracefully.

Why: torch's CPU build runs its parallel work on GNU OpenMP (libgomp)
threads, by default one per core, and a thread that finishes its share
spins (about 3 ms) waiting for the others. A small model's decode step is
hundreds of tiny parallel regions; when other processes hold the cores, the
OS deschedules one worker and the rest spin through their time slices
waiting for it. Measured here (2 cores, one busy loop per core,
`benchmarks/busy_machine.py`): sampling 16 x 32 tokens took 6.4x its quiet
time with torch's defaults, 1.8x with passive waiting and one thread.

The policy, in order:

1. Passive waiting: `OMP_WAIT_POLICY=PASSIVE` unless the user set
   `OMP_WAIT_POLICY` or `GOMP_SPINCOUNT`. libgomp reads it once, when torch
   is first imported, so `verbalrl/__init__.py` calls `set_wait_policy()`
   (a torch-free environment default) before any module imports torch.
2. The number of threads: `--threads` / `configure_threads(n)`, else
   `$VERBALRL_THREADS`, else the cores that are actually free: the idle share
   of the allowed cores over ~80 ms of `/proc/stat` (rounded, never below 1,
   never above the cores this process may use). On a quiet 2-core machine
   that is 2; with a busy loop on each core it is 1, which needs no barrier
   at all and was the fastest busy choice for sampling, scoring and
   embedding alike.

The choice is made once per process, when the first model loads (later
loads keep it), and `$VERBALRL_THREADS` passes it on to child processes.
Left out: interop threads (verbalrl runs no parallel graph ops), GPUs
(untouched), and re-checking the load while a model runs.
"""

from __future__ import annotations

import logging
import math
import os
import time

from .errors import VerbalRLError

ENV_VAR = "VERBALRL_THREADS"
log = logging.getLogger(__name__)

_chosen: int | None = None  # the count set in this process (None: not yet)


def set_wait_policy() -> None:
    """Make libgomp's idle threads sleep instead of spin, unless the user chose a policy.

    Takes effect only if called before torch is first imported (libgomp
    reads its environment when it loads).
    """
    if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"


def parse_threads(value: str | int | None, source: str = ENV_VAR) -> int | None:
    """A thread count from `value` ("auto", "" or None mean: choose from the free cores).

    Raises `VerbalRLError` naming `source` and the value for anything but a
    positive integer.
    """
    if value is None:
        return None
    text = str(value).strip()
    if text.lower() in ("", "auto"):
        return None
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise VerbalRLError(f"{source} must be a positive number of threads or 'auto', got {value!r}")
    return n


def allowed_cores() -> int:
    """The cores this process may run on: its CPU affinity, capped by a cgroup CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    try:
        with open("/sys/fs/cgroup/cpu.max") as f:
            quota, period = f.read().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def _cpu_times() -> dict[str, tuple[int, int]]:
    """(idle, total) jiffies of each CPU (`cpu0`, `cpu1`, ...) from /proc/stat."""
    times = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3:4].isdigit():
                name, *fields = line.split()
                values = [int(v) for v in fields[:8]]  # user nice system idle iowait irq softirq steal
                times[name] = (values[3] + values[4], sum(values))
    return times


def free_cores(window: float = 0.08) -> float:
    """How many of the allowed cores sat idle over the last `window` seconds (the cores if unknown)."""
    try:
        mine = {f"cpu{i}" for i in os.sched_getaffinity(0)}
        before = _cpu_times()
        time.sleep(window)
        after = _cpu_times()
    except (OSError, AttributeError, ValueError):
        return float(allowed_cores())
    idle = 0.0
    for name in mine & before.keys() & after.keys():
        d_idle = after[name][0] - before[name][0]
        d_total = after[name][1] - before[name][1]
        idle += d_idle / d_total if d_total > 0 else 1.0
    return min(idle, float(allowed_cores()))


def choose_threads(threads: int | None = None) -> int:
    """The thread count to use: `threads`, else `$VERBALRL_THREADS`, else the free cores (>= 1)."""
    explicit = _explicit(threads)
    if explicit is not None:
        return explicit
    free = free_cores()
    n = max(1, min(allowed_cores(), math.floor(free + 0.5)))
    log.info("torch threads: %d (%.1f of %d cores free)", n, free, allowed_cores())
    return n


def _explicit(threads: int | None) -> int | None:
    if threads is not None:
        return parse_threads(threads, "threads")
    return parse_threads(os.environ.get(ENV_VAR))


def configure_threads(threads: int | None = None) -> int:
    """Set torch's CPU threads for this process and return the count (see the module docstring).

    Called where models load. Without `threads` and `$VERBALRL_THREADS`, the
    first call measures the free cores and later calls keep that choice.
    """
    global _chosen
    if _chosen is not None and _explicit(threads) is None:
        return _chosen
    n = choose_threads(threads)
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    _chosen = n
    return n
