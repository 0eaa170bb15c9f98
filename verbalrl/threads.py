"""How many CPU threads torch uses, and how they wait, so a busy machine slows verbalrl gracefully.

Why: torch's CPU build runs its parallel work on GNU OpenMP (libgomp)
threads, by default one per core, and a thread that finishes its share
spins (GOMP_SPINCOUNT 300000, a few ms) waiting for the others. A small
model's decode step is hundreds of tiny parallel regions; when other
processes hold the cores, the OS deschedules one worker and the rest spin
through their time slices waiting for it. Measured on 2 cores with a busy
loop on each (`benchmarks/busy_machine.py`, RESULTS.md): scoring 16
candidates took 8.6x its quiet time with torch's defaults, 2.1x with this
policy; the demo 5.3x against 2.1x.

The policy, in order:

1. Short spinning: `GOMP_SPINCOUNT=3000` (about 30 us, then the thread
   sleeps) unless the user set `GOMP_SPINCOUNT` or `OMP_WAIT_POLICY`. Fully
   passive waiting (`OMP_WAIT_POLICY=PASSIVE`) helped a busy machine as much
   but cost 25-60 % on a quiet one (each barrier then pays a futex wake-up);
   3000 spins cost nothing measurable quiet. libgomp reads this once, when
   torch is first imported, so `verbalrl/__init__.py` calls
   `set_wait_policy()` (torch-free) before any verbalrl module imports torch.
2. The number of threads: `--threads` / `configure_threads(n)`, else
   `$VERBALRL_THREADS`, else the cores that are actually free: the idle share
   of the allowed cores over ~80 ms of `/proc/stat`, rounded, never below 1
   nor above the cores this process may use (affinity, cgroup quota). A quiet
   2-core machine gets 2; with a busy loop on each core it gets 1, which has
   no barrier to wait at and was the best busy choice for sampling, scoring
   and one-sentence embedding alike.

The count is chosen once per process, when the first model loads (later
loads keep it); `$VERBALRL_THREADS` passes an explicit count to child
processes. Left out: interop threads, GPUs (untouched), other OpenMP
runtimes' knobs (unmeasured), and re-checking the load while a model runs.
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


SPIN_COUNT = "3000"  # libgomp spins before a waiting thread sleeps (its default: 300000)


def set_wait_policy() -> None:
    """Make libgomp's waiting threads sleep after a short spin, unless the user chose a policy.

    Takes effect only if called before torch is first imported (libgomp
    reads its environment when it loads).
    """
    if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        os.environ["GOMP_SPINCOUNT"] = SPIN_COUNT


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
        log.info("torch threads: %d (asked for)", explicit)
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
