"""Run a synthesized stack's Batch jobs, workflows, schedules and the CSV pipeline locally.

For tests in CI with no AWS account, no Docker and no network: an embedded AWS emulator
(moto's server, bound to 127.0.0.1, in this process) holds the stack's resources, and
the jobs AWS Batch would start run as local processes or Python callables::

    from constructs_batch.local import LocalAws, LocalCommand, deploy

    with LocalAws() as aws:
        local = deploy(aws, stack, jobs={report_job: LocalCommand(argv=("python", "-m", "report"))})
        result = local.run_workflow(flow, {"key": "incoming/a.csv"})
        assert result.status == "SUCCEEDED"
        assert result.jobs_named("Report")[0].records[-1]["rows"] == 3

- :class:`LocalAws`: the emulator (``aws.client("s3")``, ``aws.env`` for child processes).
- :func:`deploy`: create a stack's (or template's) resources and resolve its intrinsics;
  :class:`LocalDeployment` then runs workflows (``run_workflow``), fires schedules
  (``fire_schedule``) and plays submitted jobs (``play``).
- :class:`LocalBatch` (``aws.batch``): plays the jobs submitted to the emulator's Batch,
  honouring ``dependsOn`` and array jobs, failed jobs included, and reports each outcome
  back (Step Functions' ``submitJob.sync`` waits for it).
- :class:`LocalPipeline` (:func:`create_pipeline`, :func:`run_pipeline`): the CSV
  pipeline's S3 events, SQS, submitter Lambda and loader jobs, from its template.

Needs the ``local`` extra (``pip install "constructs_batch[local]"``: moto's server).
One ``LocalAws`` runs per process (moto's state is the process's); it patches moto in
this process where moto 5.2 falls short (see ``constructs_batch.local._moto``).
"""

from constructs_batch.local._batch import (
    DEPENDENCY_FAILED_REASON,
    EXIT_REASON,
    JobPlayer,
    JobResult,
    JobRun,
    LocalBatch,
    LocalCommand,
    wait_for,
)
from constructs_batch.local._deploy import (
    Intrinsics,
    LocalDeployment,
    ScheduleFiring,
    UnresolvedIntrinsicError,
    WorkflowResult,
    deploy,
    logical_id,
    template_of,
)
from constructs_batch.local._emulator import ACCOUNT_ID, REGION, LocalAws
from constructs_batch.local._pipeline import (
    Delivery,
    LocalPipeline,
    PipelineOutcome,
    StackWiring,
    StoredObject,
    create_pipeline,
    object_id,
    run_pipeline,
)
from constructs_batch.local._runtime import ImageRuntime, image_runtime, runtime_dir
from constructs_batch.local._samples import (
    INDEX_TYPE_MISMATCH,
    RefusingDynamoDB,
    SampleCsv,
    ThrottlingDynamoDB,
    sample_csv,
)

__all__ = [
    "ACCOUNT_ID",
    "DEPENDENCY_FAILED_REASON",
    "EXIT_REASON",
    "INDEX_TYPE_MISMATCH",
    "REGION",
    "Delivery",
    "ImageRuntime",
    "Intrinsics",
    "JobPlayer",
    "JobResult",
    "JobRun",
    "LocalAws",
    "LocalBatch",
    "LocalCommand",
    "LocalDeployment",
    "LocalPipeline",
    "PipelineOutcome",
    "RefusingDynamoDB",
    "SampleCsv",
    "ScheduleFiring",
    "StackWiring",
    "StoredObject",
    "ThrottlingDynamoDB",
    "UnresolvedIntrinsicError",
    "WorkflowResult",
    "create_pipeline",
    "deploy",
    "image_runtime",
    "logical_id",
    "object_id",
    "run_pipeline",
    "runtime_dir",
    "sample_csv",
    "template_of",
    "wait_for",
]
