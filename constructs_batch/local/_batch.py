"""AWS Batch on this machine: the emulator holds every submitted job, the player runs it.

moto's Batch (without Docker) records a submitted job; :mod:`._moto` makes it hold the
job instead of finishing it, and hands it to :class:`LocalBatch`. ``play()`` then runs
every job whose dependencies are settled, as Batch would: a local process
(:class:`LocalCommand`) or a Python callable per job definition, the children of an
array job side by side, and reports each outcome to the emulator (status, exit code,
status reason), so that ``describe_jobs`` and Step Functions' ``submitJob.sync`` see it.

What Batch does and the emulator does not, the player does: a job waits for its
``dependsOn`` jobs (``N_TO_N`` pairs array children by index, ``SEQUENTIAL`` runs an
array's children in order) and fails with ``Dependent Job failed`` when one of them
failed; an array job fails when a child failed; a cancelled or terminated job that has
not started fails with its reason.
"""

from __future__ import annotations

import contextlib
import datetime
import enum
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeAlias

from moto.batch.models import Job

if TYPE_CHECKING:
    from constructs_batch.local._emulator import LocalAws

__all__ = [
    "DEFAULT_JOB_TIMEOUT_SECONDS",
    "DEPENDENCY_FAILED_REASON",
    "EXIT_REASON",
    "JobPlayer",
    "JobResult",
    "JobRun",
    "LocalBatch",
    "LocalCommand",
    "wait_for",
]

#: A local job that runs longer than this is killed and fails (unless its player says).
DEFAULT_JOB_TIMEOUT_SECONDS: Final = 120.0
#: Jobs run at once (array children included).
MAX_PARALLEL_JOBS: Final = 8
#: Status reasons AWS Batch gives: a container that exited non-zero, a job whose
#: dependency failed, an attempt that ran out of time.
EXIT_REASON: Final = "Essential container in task exited"
DEPENDENCY_FAILED_REASON: Final = "Dependent Job failed"
TIMEOUT_REASON: Final = "Job attempt duration exceeded timeout"
#: Environment variables of the host a local process keeps.
_HOST_VARIABLES: Final = ("PATH", "LANG", "LC_ALL", "TZ", "SYSTEMROOT")


@dataclass(frozen=True)
class JobRun:
    """One container AWS Batch would start: a plain job or one child of an array job.

    Attributes:
        job_id: the job's id (``<array job id>:<index>`` for a child).
        job_name: the job's name.
        job_definition: the name of its job definition, as registered in the emulator.
        array_index: the child's index, or None.
        environment: what the container gets: the job definition's variables, the
            submission's overrides, and Batch's own (``AWS_BATCH_JOB_ID``,
            ``AWS_BATCH_JOB_ATTEMPT``, ``AWS_BATCH_JQ_NAME``, ``AWS_BATCH_JOB_ARRAY_INDEX``).
        command: the container command (the submission's, else the job definition's).
    """

    job_id: str
    job_name: str
    job_definition: str
    array_index: int | None
    environment: dict[str, str]
    command: tuple[str, ...]


@dataclass(frozen=True)
class JobResult:
    """A finished run: how it ended and what it printed.

    Attributes:
        run: what ran.
        exit_code: the process's exit code (or the callable's return value).
        stdout, stderr: what it printed ("" for a callable).
        seconds: how long it ran.
        status_reason: why it failed (Batch's status reason), None if it succeeded.
    """

    run: JobRun
    exit_code: int
    stdout: str
    stderr: str
    seconds: float
    status_reason: str | None = None

    @property
    def succeeded(self) -> bool:
        """True when the job ended SUCCEEDED."""
        return self.status_reason is None

    @property
    def records(self) -> list[dict[str, Any]]:
        """The JSON object log lines the job printed, with their fields."""
        out: list[dict[str, Any]] = []
        for line in self.stdout.splitlines():
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict):
                    out.append(record)
        return out


@dataclass(frozen=True)
class LocalCommand:
    """Play a job as a local process.

    The command line is ``argv`` when given, else ``entrypoint`` followed by the job's
    command (or ``default_command`` when the job has none), the way a container runs
    ENTRYPOINT and CMD. A first word naming Python (``python``, ``python3``) runs this
    interpreter.

    Args:
        argv: the whole command line. Default: none (entrypoint + command).
        entrypoint: what precedes the job's command (the image's ENTRYPOINT). Default: none.
        default_command: the command when the job has none (the image's CMD). Default: none.
        cwd: the working directory (the image's WORKDIR). Default: the current directory.
        environment: variables the image sets (ENV), under the job's. Default: none.
        timeout_seconds: kill the process after this long (the job fails). Default: 120.
    """

    argv: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] = ()
    default_command: tuple[str, ...] = ()
    cwd: str | Path | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    timeout_seconds: float = DEFAULT_JOB_TIMEOUT_SECONDS

    def command_line(self, run: JobRun) -> list[str]:
        """What runs for ``run``."""
        argv = list(self.argv or (*self.entrypoint, *(run.command or self.default_command)))
        if argv and Path(argv[0]).name.startswith("python"):
            argv[0] = sys.executable
        return argv

    def process_environment(
        self, run: JobRun, emulator: Mapping[str, str], *, temp_dir: str | None = None
    ) -> dict[str, str]:
        """The process's environment: the host's PATH and locale, the image's variables,
        the emulator's endpoint and credentials (in place of the job role's), the job's.

        Args:
            run: the job run.
            emulator: ``LocalAws.env``.
            temp_dir: the process's TMPDIR. Default: None (the system's).
        """
        host = {name: os.environ[name] for name in _HOST_VARIABLES if name in os.environ}
        scratch = {"TMPDIR": temp_dir} if temp_dir else {}
        return {
            **host,
            "HOME": tempfile.gettempdir(),
            **scratch,
            **self.environment,
            **emulator,
            **run.environment,
        }

    def start(
        self, run: JobRun, emulator: Mapping[str, str], *, temp_dir: str | None = None
    ) -> subprocess.Popen[str]:
        """Start the process for ``run`` (stdout and stderr piped)."""
        return subprocess.Popen(
            self.command_line(run),
            cwd=self.cwd,
            env=self.process_environment(run, emulator, temp_dir=temp_dir),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(
        self,
        run: JobRun,
        emulator: Mapping[str, str],
        *,
        timeout_seconds: float | None = None,
        temp_dir: str | None = None,
    ) -> JobResult:
        """Run the process for ``run`` to its end (killed after the timeout)."""
        limit = self.timeout_seconds if timeout_seconds is None else timeout_seconds
        start = time.monotonic()
        process = self.start(run, emulator, temp_dir=temp_dir)
        reason: str | None = None
        try:
            stdout, stderr = process.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
            stderr += f"\nkilled after {limit:g} s"
            reason = TIMEOUT_REASON
        if reason is None and process.returncode != 0:
            reason = EXIT_REASON
        return JobResult(
            run=run,
            exit_code=process.returncode,
            stdout=stdout,
            stderr=stderr,
            seconds=time.monotonic() - start,
            status_reason=reason,
        )


#: How a job definition's jobs are played: a local process, or a callable that gets the
#: run and returns its exit code (None for 0) or raises (the job fails).
JobPlayer: TypeAlias = LocalCommand | Callable[[JobRun], int | None]


class LocalBatch:
    """Runs the jobs submitted to the emulator's AWS Batch, and reports their outcome.

    ``LocalAws`` owns one (``aws.batch``). Tell it how to play each job definition with
    :meth:`add_player` (``constructs_batch.local.deploy`` does, from its ``jobs``); a job
    of a definition without a player fails, saying so.

    Attributes:
        results: every finished run, in the order they finished.
    """

    def __init__(self, aws: LocalAws) -> None:
        self._aws = aws
        self._lock = threading.RLock()
        self._jobs: dict[str, Job] = {}
        self._players: dict[str, JobPlayer] = {}
        self.results: list[JobResult] = []

    # --- set up ----------------------------------------------------------------------
    def add_player(self, job_definition: str, player: JobPlayer) -> None:
        """Play the jobs of a job definition (its name in the emulator) with ``player``."""
        with self._lock:
            self._players[job_definition] = player

    def reset(self) -> None:
        """Forget every job, player and result (the emulator was reset)."""
        with self._lock:
            self._jobs.clear()
            self._players.clear()
            self.results.clear()

    def receive(self, job: Job) -> None:
        """Take a job the emulator holds (called from the emulator's request thread)."""
        with self._lock:
            self._jobs[job.job_id] = job

    # --- inspect ---------------------------------------------------------------------
    def run_of(self, job_id: str) -> JobRun:
        """What the container of a job (or of one array child) gets.

        Raises:
            KeyError: no such job was submitted.
        """
        with self._lock:
            job = self._jobs[job_id]
        return _job_run(job)

    def runs_of(self, job_id: str) -> list[JobRun]:
        """The containers Batch starts for a job: itself, or each child of an array job."""
        with self._lock:
            job = self._jobs[job_id]
            children = list(job._child_jobs or [])
        if "size" in job.array_properties:
            return [_job_run(child) for child in children]
        return [_job_run(job)]

    def status(self, job_id: str) -> str:
        """The job's status as the emulator reports it."""
        with self._lock:
            status = self._jobs[job_id].status
        return str(status.value if isinstance(status, enum.Enum) else status)

    def pending(self) -> list[str]:
        """Ids of the jobs (and array children) that have not finished."""
        with self._lock:
            return [job_id for job_id, job in self._jobs.items() if not job.job_stopped]

    # --- play ------------------------------------------------------------------------
    def play(self, *, timeout_seconds: float = 600.0) -> list[JobResult]:
        """Run every job that can run, round after round, until none is left that can.

        A job whose dependency never finishes (it is not in the emulator, or waits on a
        job nobody plays) stays pending.

        Returns:
            The runs finished by this call, in the order they finished.
        """
        deadline = time.monotonic() + timeout_seconds
        finished: list[JobResult] = []
        while time.monotonic() < deadline:
            played = self.play_ready()
            if not played:
                return finished
            finished.extend(played)
        return finished

    def play_ready(self) -> list[JobResult]:
        """One round: settle what can be settled, then run every job that is ready, at once."""
        ready = self._settle()
        if not ready:
            return []
        workers = min(MAX_PARALLEL_JOBS, len(ready))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="local-batch") as pool:
            results = list(pool.map(self._play, ready))
        with self._lock:
            self.results.extend(results)
        self._settle()
        return results

    def _settle(self) -> list[Job]:
        """Fail what cannot run, stop finished array jobs; the jobs ready to run."""
        ready: list[Job] = []
        with self._lock:
            jobs = list(self._jobs.values())
            for job in jobs:
                if job.job_stopped:
                    continue
                if "size" in job.array_properties:
                    self._settle_array(job)
                    continue
                if job.stop:  # cancelled or terminated before it started
                    _stop(job, exit_code=None, reason=job.job_stopped_reason or "Cancelled")
                    continue
                verdict = self._dependencies(job)
                if verdict is None:
                    job.status = "PENDING"
                elif verdict:
                    ready.append(job)
                    job.status = "RUNNABLE"
                else:
                    _stop(job, exit_code=None, reason=DEPENDENCY_FAILED_REASON)
            # A child failed by its dependencies can make its array job settle now.
            for job in jobs:
                if not job.job_stopped and "size" in job.array_properties:
                    self._settle_array(job)
        return ready

    def _settle_array(self, job: Job) -> None:
        children = job._child_jobs
        if children is None or not all(child.job_stopped for child in children):
            return
        failed = [child for child in children if child.status == "FAILED"]
        reason = f"{len(failed)} of {len(children)} child jobs failed" if failed else None
        _stop(job, exit_code=None, reason=reason)

    def _dependencies(self, job: Job) -> bool | None:
        """True when every dependency succeeded, False when one failed, None while waiting."""
        index = job.array_properties.get("index")
        parent_id = job.job_id.rsplit(":", 1)[0] if index is not None else None
        waiting = False
        for dependency in job.depends_on or []:
            target_id = dependency.get("jobId")
            kind = dependency.get("type")
            if not target_id and kind == "SEQUENTIAL" and index:
                target_id = f"{parent_id}:{index - 1}"
            elif target_id and kind == "N_TO_N" and index is not None:
                target_id = f"{target_id}:{index}"
            if not target_id:
                continue
            target = self._jobs.get(target_id)
            if target is None:
                return False  # AWS refuses the submission; here the job fails
            if not target.job_stopped:
                waiting = True
            elif target.status == "FAILED":
                return False
        return None if waiting else True

    def _play(self, job: Job) -> JobResult:
        run = _job_run(job)
        with self._lock:
            player = self._players.get(run.job_definition)
            job.status = "RUNNING"
            job.job_started_at = datetime.datetime.now()
        start = time.monotonic()
        if player is None:
            result = JobResult(
                run=run,
                exit_code=1,
                stdout="",
                stderr="",
                seconds=0.0,
                status_reason=f"no local player for job definition {run.job_definition}: "
                "give one in deploy(jobs=...) or LocalBatch.add_player",
            )
        elif isinstance(player, LocalCommand):
            result = player.run(run, self._aws.env)
        else:
            result = _call(player, run, start)
        with self._lock:
            _stop(job, exit_code=result.exit_code, reason=result.status_reason)
        return result


def _call(player: Callable[[JobRun], int | None], run: JobRun, start: float) -> JobResult:
    try:
        code = player(run) or 0
        stderr = ""
    except Exception as exc:  # the job's own failure, reported as Batch would
        code, stderr = 1, f"{type(exc).__name__}: {exc}"
    return JobResult(
        run=run,
        exit_code=code,
        stdout="",
        stderr=stderr,
        seconds=time.monotonic() - start,
        status_reason=EXIT_REASON if code else None,
    )


def _stop(job: Job, *, exit_code: int | None, reason: str | None) -> None:
    job.exit_code = exit_code
    if reason is not None:
        job.job_stopped_reason = reason
    job._mark_stopped(success=reason is None)


def _job_run(job: Job) -> JobRun:
    definition: Mapping[str, Any] = job.job_definition.container_properties or {}
    environment = {str(e["name"]): str(e["value"]) for e in definition.get("environment", [])}
    seen: set[str] = set()
    # moto appends the definition's variables and AWS_BATCH_JOB_ID (a sibling's, too) to
    # the overrides each time it describes the job: first of each name, none of Batch's.
    for entry in _overrides(job).get("environment", []):
        name = str(entry["name"])
        if name in seen or name.startswith("AWS_BATCH"):
            continue
        seen.add(name)
        environment[name] = str(entry["value"])
    index = job.array_properties.get("index")
    environment["AWS_BATCH_JOB_ID"] = job.job_id
    environment["AWS_BATCH_JOB_ATTEMPT"] = str(max(len(job.attempts), 1))
    environment["AWS_BATCH_JQ_NAME"] = str(job.job_queue.name)
    if index is not None:
        environment["AWS_BATCH_JOB_ARRAY_INDEX"] = str(index)
    command = _overrides(job).get("command") or definition.get("command") or ()
    return JobRun(
        job_id=job.job_id,
        job_name=job.job_name,
        job_definition=str(job.job_definition.name),
        array_index=int(index) if index is not None else None,
        environment=environment,
        command=tuple(str(word) for word in command),
    )


def _overrides(job: Job) -> Mapping[str, Any]:
    overrides: Mapping[str, Any] = job.container_overrides or {}
    return overrides


def wait_for(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.01) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
