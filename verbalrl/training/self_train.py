"""Mutual self-training of the policy, the outcome GenRM and the PRM (ReST-EM / STaR style).

    from verbalrl.training.self_train import self_train
    from verbalrl.training.self_train_config import SelfTrainConfig

    result = self_train(SelfTrainConfig(task="chain", task_options={"level": 3}), "runs/self")

Each iteration k = 1..K, on the train split, in stages (`stages.py`: a
finished stage is never redone, so a killed run resumes where it stopped):

1. `generate`: the current policy samples `samples` solutions per problem
   (with `shots` train reference solutions as chat turns before the question:
   STaR's few-shot rationale generation; the SFT examples and the held-out
   evaluation use the plain prompt);
2. `label`: feedback mode: the checker (outcomes) and the step checker (steps;
   rollouts by the policy where the task has none); verifier-only mode: the
   current outcome verifier's and PRM's scores against thresholds, never the
   gold (`self_labels.py`);
3. `policy`: LoRA SFT on the verified traces. Every iteration starts from the
   base model (ReST-EM: fine-tuning the base on the latest policy's data
   avoids drift); the data are this iteration's traces (`accumulate` adds the
   earlier iterations'). No verified trace: the stage is skipped and the
   previous policy stays current;
4. `verifier`: a direct GenRM on the new outcome labels (`train_verifier`),
   also from the base model; skipped when the labels hold one class only;
5. `prm`: the process verifier on the new step labels (`train_prm`);
6. `evaluate`: on held-out test-split problems (never trained on), the new
   policy samples `eval_samples` each; first-sample accuracy, Best-of-N with
   the new GenRM and PRM, the GenRM's AUC and the PRM's step AUC.

`OUT/iter-k/` holds the pools, labels, the three adapters (`policy/`,
`verifier/`, `prm/`) and `manifest.json` (data counts, label sources, losses,
held-out figures, seeds, timings, how often each stage was started);
`OUT/iter-0/` evaluates the first policy (`baseline`). A training stage that
was killed resumes from its last Trainer checkpoint (`save_steps`). Search
(beam/MCTS) as the generator is left out: sampling only.
"""

from __future__ import annotations

import gc
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import VerbalRLError
from ..evaluation.pool import CandidateRecord, pool_stats, read_pool, sample_pool, write_pool
from ..evaluation.shots import Shot
from ..llm.base import GenerationConfig
from ..tasks.base import Problem, Task
from .self_labels import Labels, feedback_labels, has_step_checker, verifier_labels
from .self_train_config import SelfTrainConfig
from .stages import StageDir, last_checkpoint, read_json, write_json, write_lines
from .step_labels import StepExample

log = logging.getLogger(__name__)
CONFIG_FILE = "config.json"
EVAL_SEED_OFFSET = 99_991  # held-out sampling: the same seed every iteration, so policies compare


@dataclass
class SelfTrainResult:
    """Where the run lives and each iteration's manifest (iteration 0: the baseline, if run)."""

    out: Path
    manifests: list[dict[str, Any]]


class SelfTrainer:
    """The K iterations over one output folder (see the module docstring)."""

    def __init__(
        self,
        config: SelfTrainConfig,
        out: str | Path,
        *,
        progress: bool = True,
        say: Callable[[str], None] | None = None,
    ) -> None:
        from ..tasks import get_task

        self.config, self.out, self.progress = config, Path(out), progress
        self._say = say or log.info
        self.task: Task = get_task(config.task, **config.task_options)
        self.train = self.task.problems("train", n=config.train_problems, seed=config.seed)
        self.held_out = self.task.problems("test", n=config.eval_problems, seed=config.seed)
        self.demonstrations: list[Shot] = []
        if config.shots:  # STaR's few-shot prompts for the training traces; checked before any work
            from ..evaluation.shots import reference_shots

            try:
                self.demonstrations = reference_shots(self.task, n=32, seed=config.seed + 7)
            except ValueError as exc:
                raise VerbalRLError(f"--shots {config.shots}: {exc}") from exc
        shared = {p.question for p in self.train} & {p.question for p in self.held_out}
        if shared:
            raise VerbalRLError(f"{len(shared)} held-out problem(s) are also training problems")

    # ------------------------------------------------------------ the run
    def run(self, resume: bool = False) -> SelfTrainResult:
        self._start(resume)
        manifests = []
        if self.config.baseline:
            manifests.append(self.baseline())
        for k in range(1, self.config.iterations + 1):
            manifests.append(self.iteration(k))
        return SelfTrainResult(self.out, manifests)

    def _start(self, resume: bool) -> None:
        path = self.out / CONFIG_FILE
        mine = self.config.model_dump(mode="json")
        if path.is_file():
            if not resume:
                raise VerbalRLError(f"{self.out} holds a self-training run: pass --resume, or another --out")
            if read_json(path) != mine:
                raise VerbalRLError(f"{self.out} was started with other settings ({path}): use another --out")
        elif resume and self.out.exists() and any(self.out.iterdir()):
            raise VerbalRLError(f"{self.out} has no {CONFIG_FILE}: it is not a self-training run")
        write_json(path, mine)

    def stage_dir(self, k: int) -> StageDir:
        return StageDir(self.out / f"iter-{k}", say=lambda text: self._say(f"[iteration {k}] {text}"))

    def baseline(self) -> dict[str, Any]:
        """Iteration 0: the first policy (and first verifiers, if given) on the held-out problems."""
        d = self.stage_dir(0)
        policy, verifier, prm = self.current(0)
        d.run("evaluate", lambda: self.evaluate(d, policy, verifier, prm))
        return self.manifest(d, 0, (policy, verifier, prm))

    def iteration(self, k: int) -> dict[str, Any]:
        d = self.stage_dir(k)
        used = self.current(k)
        policy, verifier, prm = used
        d.run("generate", lambda: self.generate(d, k, policy))
        d.run("label", lambda: self.label(d, k, policy, verifier, prm))
        d.run("policy", lambda: self.train_policy(d, k))
        d.run("verifier", lambda: self.train_verifier(d, k))
        d.run("prm", lambda: self.train_prm(d, k))
        for stage in ("policy", "verifier", "prm"):  # finished: its Trainer checkpoints are dead weight
            shutil.rmtree(d.path / stage / "checkpoints", ignore_errors=True)
        new = self.current(k + 1)
        d.run("evaluate", lambda: self.evaluate(d, *new))
        return self.manifest(d, k, used)

    def current(self, k: int) -> tuple[str, str | None, str | None]:
        """The policy, outcome verifier and PRM in force at iteration k (the latest trained ones)."""
        c = self.config
        found: dict[str, str | None] = {
            "policy": c.policy or c.base_model,
            "verifier": c.verifier,
            "prm": c.prm,
        }
        for stage in ("policy", "verifier", "prm"):
            for j in range(k - 1, 0, -1):
                d = self.stage_dir(j)
                if d.done(stage) and not d.result(stage).get("skipped"):
                    folder = str(d.path / stage)
                    found[stage] = (
                        folder
                        if stage == "policy"
                        else f"{'genrm' if stage == 'verifier' else 'prm'}:{folder}"
                    )
                    break
        return str(found["policy"]), found["verifier"], found["prm"]

    # ------------------------------------------------------------ stages
    def generate(self, d: StageDir, k: int, policy: str) -> dict[str, Any]:
        c = self.config
        seed = c.seed + 1000 * k
        records = self._sample(policy, self.train, c.samples, seed, shots=c.shots)
        write_pool(d.path / "pool.jsonl", records)
        stats = pool_stats(records)
        return {
            "policy": policy,
            "problems": stats.problems,
            "candidates": stats.candidates,
            "seed": seed,
            "shots": c.shots,
            "mean_completion_tokens": stats.mean_completion_tokens,
            "checker_per_sample_accuracy": stats.per_sample_accuracy,
        }

    def label(
        self, d: StageDir, k: int, policy: str, verifier: str | None, prm: str | None
    ) -> dict[str, Any]:
        c = self.config
        records = read_pool(d.path / "pool.jsonl")
        if c.mode == "feedback":
            needs_policy = c.train_prm and not has_step_checker(self.task)
            llm = self._load_policy(policy) if needs_policy else None
            gen = GenerationConfig(
                temperature=c.temperature, max_new_tokens=c.max_new_tokens, seed=c.seed + k
            )
            labels = feedback_labels(
                self.task,
                records,
                policy=llm,
                rollouts=c.rollouts,
                config=gen,
                steps=c.train_prm,
                progress=self.progress,
            )
        else:
            assert verifier is not None  # the config requires the first one
            labels = verifier_labels(
                records,
                self._load_outcome_verifier(verifier, policy),
                threshold=c.threshold,
                process=self._load_process(prm, policy) if prm else None,
                step_threshold=c.step_threshold,
                top_fraction=c.top_fraction,
            )
        self._write_labels(d, labels)
        return {
            "mode": c.mode,
            "outcome_verifier": verifier if c.mode != "feedback" else None,
            "process_verifier": prm if c.mode != "feedback" else None,
            **labels.summary(),
        }

    def train_policy(self, d: StageDir, k: int) -> dict[str, Any]:
        from .examples import correct_solution_examples
        from .sft_trainer import train_sft

        c = self.config
        records = self._labelled(k)
        examples = correct_solution_examples(
            records, self.task, max_per_problem=c.max_per_class, seed=c.seed + k
        )
        if not examples:
            return {"skipped": "no verified trace to train on: the previous policy stays", "examples": 0}
        folder = d.path / "policy"
        ckpt = last_checkpoint(folder)
        result = train_sft(
            examples,
            c.training("policy", k),
            folder,
            kind="generator",
            resume=ckpt is not None,
            progress=self.progress,
            extra_metadata={"self_train_iteration": k},
        )
        return {"init": "base model (ReST-EM)", **_trained(result, ckpt)}

    def train_verifier(self, d: StageDir, k: int) -> dict[str, Any]:
        from .recipes import train_verifier

        c = self.config
        records = self._labelled(k)
        positives = sum(r.correct for r in records)
        if not c.train_verifier:
            return {"skipped": "train_verifier is off"}
        if positives in (0, len(records)):
            return {"skipped": "the labels hold one class only: the previous verifier stays"}
        folder = d.path / "verifier"
        ckpt = last_checkpoint(folder)
        result = train_verifier(
            records,
            folder,
            "genrm",
            c.training("verifier", k),
            max_per_class=c.max_per_class,
            negative_ratio=c.negative_ratio,
            resume=ckpt is not None,
            progress=self.progress,
        )
        return {"init": "base model", **_trained(result, ckpt)}

    def train_prm(self, d: StageDir, k: int) -> dict[str, Any]:
        from .prm_trainer import train_prm

        c = self.config
        examples = [
            e for j in self._data_iterations(k) for e in _read_steps(self.out / f"iter-{j}" / "steps.jsonl")
        ]
        if not c.train_prm:
            return {"skipped": "train_prm is off"}
        if not examples:
            return {"skipped": "no step-labelled candidate: the previous PRM stays"}
        folder = d.path / "prm"
        ckpt = last_checkpoint(folder)
        result = train_prm(
            examples,
            c.prm_config(k),
            folder,
            resume=ckpt is not None,
            progress=self.progress,
            extra_metadata={"labels": sorted({e.source for e in examples})},
        )
        return {"init": "base model", **_trained(result, ckpt)}

    def evaluate(self, d: StageDir, policy: str, verifier: str | None, prm: str | None) -> dict[str, Any]:
        from ..evaluation.held_out import held_out_figures

        c = self.config
        records = self._sample(policy, self.held_out, c.eval_samples, c.seed + EVAL_SEED_OFFSET)
        write_pool(d.path / "eval_pool.jsonl", records)
        outcome = self._load_outcome_verifier(verifier, policy) if verifier else None
        process = self._load_process(prm, policy) if prm else None
        figures, report = held_out_figures(
            self.task,
            records,
            verifier=outcome,
            process=process,
            ns=c.ns(),
            bootstrap=c.bootstrap,
            seed=c.seed,
        )
        write_json(d.path / "eval.json", report.model_dump(mode="json"))
        del outcome, process
        gc.collect()
        return {
            "policy": policy,
            "verifier": verifier,
            "prm": prm,
            "seed": c.seed + EVAL_SEED_OFFSET,
            **figures,
        }

    # ------------------------------------------------------------ manifest
    def manifest(self, d: StageDir, k: int, used: tuple[str, str | None, str | None]) -> dict[str, Any]:
        """What iteration k did, written to `iter-k/manifest.json` (atomically)."""
        stages = {
            name: d.result(name)
            for name in ("generate", "label", "policy", "verifier", "prm", "evaluate")
            if d.done(name)
        }
        label = stages.get("label", {})
        manifest = {
            "iteration": k,
            "mode": self.config.mode,
            "task": {"name": self.task.name, "options": self.config.task_options},
            "started_with": {"policy": used[0], "verifier": used[1], "prm": used[2]},
            "label_source": {"outcomes": label.get("outcome_labels"), "steps": label.get("step_labels")},
            "data": {
                key: label.get(key)
                for key in ("candidates", "positives", "negatives", "step_examples", "steps")
            }
            if label
            else {},
            "accumulate": self.config.accumulate,
            "held_out": stages["evaluate"],
            "stages": stages,
            "attempts": d.attempts(),
            "seconds": round(sum(s.get("seconds", 0.0) for s in stages.values()), 2),
            "seeds": {
                "config": self.config.seed,
                "generate": stages.get("generate", {}).get("seed"),
                "evaluate": stages["evaluate"].get("seed"),
            },
        }
        write_json(d.path / "manifest.json", manifest)
        return manifest

    # ------------------------------------------------------------ helpers
    def _data_iterations(self, k: int) -> list[int]:
        return list(range(1, k + 1)) if self.config.accumulate else [k]

    def _labelled(self, k: int) -> list[CandidateRecord]:
        return [
            r for j in self._data_iterations(k) for r in read_pool(self.out / f"iter-{j}" / "labelled.jsonl")
        ]

    def _write_labels(self, d: StageDir, labels: Labels) -> None:
        import json

        write_pool(d.path / "labelled.jsonl", labels.records)
        write_lines(d.path / "labels.jsonl", (json.dumps(row) for row in labels.rows))
        write_lines(d.path / "steps.jsonl", (e.model_dump_json() for e in labels.steps))

    def _sample(
        self, policy: str, problems: list[Problem], n: int, seed: int, shots: int = 0
    ) -> list[CandidateRecord]:
        """`n` samples per problem; with `shots`, that many train reference solutions as turns first."""
        c = self.config
        llm = self._load_policy(policy)
        gen = GenerationConfig(temperature=c.temperature, max_new_tokens=c.max_new_tokens, seed=seed)
        try:
            return sample_pool(
                llm, self.task, problems, n, gen, progress=self.progress, task_options=c.task_options,
                demonstrations=self.demonstrations, shots=shots,
            )  # fmt: skip
        finally:
            del llm
            gc.collect()

    def _load_policy(self, policy: str) -> Any:
        from ..llm.registry import load_llm

        return load_llm(policy, dtype=self.config.dtype)

    def _load_outcome_verifier(self, spec: str, policy: str) -> Any:
        from ..verifier import load_verifier
        from ..verifier.genrm import GenRMVerifier

        llm = self._load_policy(policy) if ":" not in spec and spec in ("genrm", "genrm-cot") else None
        verifier = load_verifier(spec, llm=llm, task=self.task)
        if isinstance(verifier, GenRMVerifier):
            verifier.score = self.config.verifier_score
        return verifier

    def _load_process(self, spec: str, policy: str) -> Any:
        from ..verifier import load_verifier

        llm = self._load_policy(policy) if spec == "prm" else None
        process = load_verifier(spec, llm=llm, task=self.task)
        if not callable(getattr(process, "score_steps", None)):
            raise VerbalRLError(f"{spec!r} is not a process verifier (no step scores)")
        return process


def _trained(result: Any, checkpoint: Path | None) -> dict[str, Any]:
    history = result.loss_history
    return {
        "examples": result.examples,
        "dropped": result.dropped,
        "optimizer_steps": result.steps,
        "first_loss": history[0][1] if history else None,
        "last_loss": history[-1][1] if history else None,
        "loss_history": history,
        "resumed_from": checkpoint.name if checkpoint else None,
        "train_seconds": round(result.seconds, 2),
    }


def _read_steps(path: Path) -> list[StepExample]:
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [StepExample.model_validate_json(line) for line in lines if line.strip()]


def self_train(
    config: SelfTrainConfig,
    out: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    say: Callable[[str], None] | None = None,
) -> SelfTrainResult:
    """Run (or with `resume`, continue) `config.iterations` iterations in `out`; see the module docstring."""
    return SelfTrainer(config, out, progress=progress, say=say).run(resume=resume)
