"""In-process patches of moto 5.2 that the local runs need, applied once and version-guarded.

1. moto 5.2's Step Functions interpreter never converts a Batch task's parameters from
   the state language's PascalCase to boto's member names, nor the response back
   (getmoto/moto#10076: ``_normalise_parameters`` and ``_normalise_response`` are no-ops),
   so every ``arn:aws:states:::batch:submitJob[.sync]`` task fails in botocore's
   serializer. The patch does what the upstream fix does, through botocore's operation
   model, for the Batch integration only.
2. A Parallel state whose branch fails with a ``States.*`` error (``States.TaskFailed``
   from a failed job) makes moto 5.2 crash (it re-raises the branch's error as a custom
   error name, which may not start with ``States.``) instead of passing the error on to
   the Parallel's catchers as AWS does; ``JobWorkflow`` catches failed jobs that way. The
   patch names such an error as the states error it is.
3. A ``.sync`` task polls its job every 0.5 s, as a stand-in for AWS's events; the jobs
   here run in this process and finish in milliseconds, so the poll is every 50 ms (a
   three-step workflow takes a fraction of a second instead of a second and a half).
4. Without Docker, moto's Batch finishes every job inside SubmitJob. The patch holds each
   submitted job (and each child of an array job) instead and hands it to the job player
   (:class:`constructs_batch.local.LocalBatch`), which runs it and reports its outcome.

They patch moto's classes in this process, which is why the emulator's server runs in
the same process as the tests (``ThreadedMotoServer``).
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable
from typing import Any, Final

import botocore.session
import moto
from moto.batch.models import Job
from moto.batch_simple.models import BatchSimpleBackend
from moto.stepfunctions.parser.asl.component.common.error_name import custom_error_name
from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import branches_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_callback,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
    StateTaskService,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_batch import (
    StateTaskServiceBatch,
)
from moto.stepfunctions.parser.utils import camel_to_snake_case

__all__ = ["JobSink", "apply_patches", "set_job_sink"]

#: moto releases these patches are written for (``pyproject.toml`` pins the same range).
SUPPORTED_MOTO: Final = ((5, 2), (5, 3))

#: How often a ``.sync`` task asks whether its job finished (moto: 0.5 s).
SYNC_POLL_SECONDS: Final = 0.05
_SYNC_POLL_NAME: Final = "_DELAY_SECONDS_SYNC_CONDITION_CHECK"

#: Receives each job moto's Batch would have finished at submission.
JobSink = Callable[[Job], None]

_lock = threading.Lock()
_applied = False
_sink: JobSink | None = None
_original_mark_finished: Callable[..., None] | None = None
_session = botocore.session.get_session()


def _moto_version() -> tuple[int, ...]:
    return tuple(int(part) for part in moto.__version__.split(".")[:2] if part.isdigit())


def apply_patches() -> None:
    """Apply the patches to this process's moto (once; later calls do nothing).

    Raises:
        RuntimeError: the installed moto is outside the versions they are written for.
    """
    global _applied, _original_mark_finished
    with _lock:
        if _applied:
            return
        low, high = SUPPORTED_MOTO
        if not low <= _moto_version() < high:
            raise RuntimeError(
                f"constructs_batch.local needs moto {'.'.join(map(str, low))}.x, got "
                f"{moto.__version__}: install constructs_batch[local]"
            )
        if _normalisation_missing():
            StateTaskServiceBatch._normalise_parameters = _normalise_parameters  # type: ignore[method-assign]
            StateTaskServiceBatch._normalise_response = _normalise_response  # type: ignore[method-assign]
        if getattr(branches_decl, "CustomErrorName", None) is custom_error_name.CustomErrorName:
            setattr(branches_decl, "CustomErrorName", _branch_error_name)  # noqa: B010
        if hasattr(state_task_service_callback, _SYNC_POLL_NAME):
            setattr(state_task_service_callback, _SYNC_POLL_NAME, SYNC_POLL_SECONDS)
        _original_mark_finished = BatchSimpleBackend._mark_job_as_finished
        BatchSimpleBackend._mark_job_as_finished = _hold_job  # type: ignore[method-assign]
        _applied = True


def set_job_sink(sink: JobSink | None) -> None:
    """Where held jobs go; None lets moto finish them at submission again."""
    global _sink
    _sink = sink


def _normalisation_missing() -> bool:
    """True while the Batch integration inherits the base class's no-op normalisation."""
    if "_normalise_parameters" in vars(StateTaskServiceBatch):
        return False
    no_op = (lambda: None).__code__.co_code
    return bool(StateTaskService._normalise_parameters.__code__.co_code == no_op)


def _operation(task: StateTaskService, service: str | None, action: str | None) -> Any:
    """botocore's model of the operation a task calls (its own, unless others are named)."""
    model = _session.get_service_model(task._get_boto_service_name(service))
    names = {camel_to_snake_case(name): name for name in model.operation_names}
    return model.operation_model(names[task._get_boto_service_action(action)])


def _normalise_parameters(
    self: StateTaskService,
    parameters: dict[str, Any],
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    shape = _operation(self, boto_service_name, service_action_name).input_shape
    if shape is not None:
        self._to_boto_request(parameters, shape)


def _normalise_response(
    self: StateTaskService,
    response: Any,
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    shape = _operation(self, boto_service_name, service_action_name).output_shape
    if shape is not None:
        self._from_boto_response(response, shape)


def _branch_error_name(error_name: str | None) -> ErrorName:
    """A failed branch's error as the Parallel state raises it: a states error stays one."""
    prefix = custom_error_name.ILLEGAL_CUSTOM_ERROR_PREFIX
    if error_name is not None and error_name.startswith(prefix):
        return StatesErrorName.from_name(error_name)
    return custom_error_name.CustomErrorName(error_name)


def _hold_job(self: BatchSimpleBackend, include_start_attempt: bool, job: Job) -> None:
    """moto's bookkeeping for a job that starts, without finishing it (see module doc)."""
    sink = _sink
    if sink is None:
        assert _original_mark_finished is not None
        _original_mark_finished(self, include_start_attempt, job)
        return
    self.backend._jobs[job.job_id] = job
    job.job_started_at = datetime.datetime.now()
    job.log_stream_name = job._stream_name
    if include_start_attempt:
        job._start_attempt()
    # The player sets the status; describing the job must not move it along.
    job.advance = lambda: None  # type: ignore[method-assign]
    sink(job)
