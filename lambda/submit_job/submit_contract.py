"""Names and values shared by the submitter Lambda, the CSV loader job and the CDK construct.

Constants only: the construct imports this module (as
``constructs_batch.runtime.submit_job.submit_contract``) to name the environment
variables it sets, and the loader uses the same ledger and job environment names.
Renaming a value here changes a deployed interface.
"""

from __future__ import annotations

from typing import Final

# --- Environment of the submitter Lambda (set by the construct) --------------
#: ARN of the job queue the submitter submits to.
ENV_JOB_QUEUE_ARN: Final = "JOB_QUEUE_ARN"
#: ARN of the loader's job definition (a revision ARN, or the ARN without a revision for the latest).
ENV_JOB_DEFINITION_ARN: Final = "JOB_DEFINITION_ARN"
#: Name of the run ledger table (one item per S3 object version).
ENV_LEDGER_TABLE_NAME: Final = "LEDGER_TABLE_NAME"
#: Only keys starting with this prefix are submitted (the other records are ignored).
ENV_INPUT_PREFIX: Final = "INPUT_PREFIX"
#: Only keys ending with this suffix, in any letter case, are submitted (the bucket notifies
#: every key under the prefix: S3's suffix filter is case-sensitive).
ENV_INPUT_SUFFIX: Final = "INPUT_SUFFIX"
#: Key prefix, in the objects' bucket, of the manifests written for array jobs.
ENV_MANIFEST_PREFIX: Final = "MANIFEST_PREFIX"
#: How long, in seconds, a SUBMITTING claim blocks a redelivery of the same object.
ENV_LEASE_SECONDS: Final = "LEASE_SECONDS"
#: ARN of the completion job's definition: submitted after each load job, depending on it.
#: Unset or empty: no completion job.
ENV_COMPLETION_JOB_DEFINITION_ARN: Final = "COMPLETION_JOB_DEFINITION_ARN"
#: Objects larger than this many bytes are split into parts loaded by the children of one
#: array job; 0 (or unset) never splits.
ENV_SPLIT_THRESHOLD_BYTES: Final = "SPLIT_THRESHOLD_BYTES"
#: The most parts one object is split into.
ENV_MAX_PARTS: Final = "MAX_PARTS"

DEFAULT_INPUT_PREFIX: Final = "incoming/"
DEFAULT_INPUT_SUFFIX: Final = ".csv"
DEFAULT_MANIFEST_PREFIX: Final = "manifests/"
#: Longer than the Lambda timeout (at most 900 s), so that a message redelivered while
#: the first invocation is still submitting never submits the object a second time.
DEFAULT_LEASE_SECONDS: Final = 900
DEFAULT_SPLIT_THRESHOLD_BYTES: Final = 0
#: Parts of one split object at most when the environment does not say (the pipeline does).
DEFAULT_MAX_PARTS: Final = 64

# --- CloudWatch metrics (embedded metric format lines in the function's log) -----
#: The namespace of the submitter's metrics; without it none are published.
ENV_METRICS_NAMESPACE: Final = "METRICS_NAMESPACE"
#: The value of the METRIC_DIMENSION_PIPELINE dimension (the pipeline's ledger table name).
ENV_METRICS_PIPELINE: Final = "METRICS_PIPELINE"
METRIC_DIMENSION_PIPELINE: Final = "Pipeline"
#: Per SQS batch (unit Count): objects in submissions that succeeded, SubmitJob calls made
#: (loads, plans, completions; failed calls included), S3 records that need no job (other
#: event types, keys outside the input filter), messages reported for redelivery.
METRIC_OBJECTS_SUBMITTED: Final = "ObjectsSubmitted"
METRIC_SUBMIT_JOB_CALLS: Final = "SubmitJobCalls"
METRIC_RECORDS_IGNORED: Final = "RecordsIgnored"
METRIC_MESSAGES_FAILED: Final = "MessagesFailed"

# --- Environment of the loader job (container overrides of SubmitJob) --------
# Names must not start with AWS_BATCH (ContainerProperties API).
#: Single-object job: bucket of the CSV object.
JOB_ENV_CSV_BUCKET: Final = "CSV_BUCKET"
#: Single-object job: the object key, URL-decoded.
JOB_ENV_CSV_KEY: Final = "CSV_KEY"
#: Single-object job: the object's version id, "" when the bucket is not versioned.
JOB_ENV_CSV_VERSION_ID: Final = "CSV_VERSION_ID"
#: Single-object job: the object's ETag as the S3 event gives it.
JOB_ENV_CSV_ETAG: Final = "CSV_ETAG"
#: Single-object job: the ledger item (``object_id``) the job reports to.
JOB_ENV_LEDGER_OBJECT_ID: Final = "LEDGER_OBJECT_ID"
#: Array job: ``s3://<bucket>/<key>`` of the manifest; child i loads entry i.
JOB_ENV_CSV_MANIFEST: Final = "CSV_MANIFEST"
#: Set by AWS Batch in each child of an array job: the child's index (0-based).
JOB_ENV_ARRAY_INDEX: Final = "AWS_BATCH_JOB_ARRAY_INDEX"
#: Completion job: the id of the load job (or array job) it completes.
JOB_ENV_LOAD_JOB_ID: Final = "LOAD_JOB_ID"
#: Split object: ``s3://<bucket>/<key>`` of its plan (the parts), which the plan job
#: writes and the load's children (child i loads part i) and the completion job read.
JOB_ENV_CSV_PARTS_MANIFEST: Final = "CSV_PARTS_MANIFEST"
#: Plan job: how many parts to plan.
JOB_ENV_PLAN_PARTS: Final = "PLAN_PARTS"
#: The module the plan job runs (the loader's image, ENTRYPOINT ``python -m``).
PLAN_MODULE: Final = "loader_plan"
#: Key prefix of plans, under the manifest prefix: ``<manifest prefix>parts/<id>.json``.
PARTS_MANIFEST_FOLDER: Final = "parts/"

# --- Array job manifest: a JSON list of objects with these fields ------------
MANIFEST_FIELD_BUCKET: Final = "bucket"
MANIFEST_FIELD_KEY: Final = "key"
MANIFEST_FIELD_VERSION_ID: Final = "version_id"
MANIFEST_FIELD_ETAG: Final = "etag"
MANIFEST_FIELD_OBJECT_ID: Final = "object_id"
#: Manifests are JSON; the suffix also keeps them out of the default ``.csv`` input filter.
MANIFEST_SUFFIX: Final = ".json"

# --- Run ledger (DynamoDB, on-demand) -----------------------------------------
#: Partition key (string): ``f"{bucket}/{key}#{version_id or etag}"``.
LEDGER_KEY: Final = "object_id"
#: Separator between ``bucket/key`` and the version id (or ETag) in ``object_id``.
OBJECT_ID_VERSION_SEPARATOR: Final = "#"

ATTR_STATUS: Final = "status"
ATTR_BUCKET: Final = "bucket"
ATTR_KEY: Final = "key"
ATTR_VERSION_ID: Final = "version_id"
ATTR_ETAG: Final = "etag"
ATTR_JOB_ID: Final = "job_id"
ATTR_JOB_NAME: Final = "job_name"
#: Index of the object in its array job's manifest (absent for a single-object job).
ATTR_ARRAY_INDEX: Final = "array_index"
#: ISO 8601 UTC timestamp of the claim, e.g. 2025-01-31T12:00:00.000+00:00.
ATTR_CLAIMED_AT: Final = "claimed_at"
#: Epoch seconds (number) after which a SUBMITTING claim may be retaken.
ATTR_LEASE_EXPIRES_AT: Final = "lease_expires_at"
#: ISO 8601 UTC timestamp of the successful SubmitJob.
ATTR_SUBMITTED_AT: Final = "submitted_at"
# Written by the loader.
ATTR_ROWS_LOADED: Final = "rows_loaded"
ATTR_ROWS_REJECTED: Final = "rows_rejected"
ATTR_ROWS_DUPLICATE: Final = "rows_duplicate"
ATTR_REJECTS_KEY: Final = "rejects_key"
ATTR_STARTED_AT: Final = "started_at"
ATTR_FINISHED_AT: Final = "finished_at"
ATTR_DURATION_S: Final = "duration_s"
ATTR_ERROR: Final = "error"

STATUS_SUBMITTING: Final = "SUBMITTING"
STATUS_SUBMITTED: Final = "SUBMITTED"
STATUS_RUNNING: Final = "RUNNING"
STATUS_SUCCEEDED: Final = "SUCCEEDED"
STATUS_FAILED: Final = "FAILED"
STATUSES: Final = (
    STATUS_SUBMITTING,
    STATUS_SUBMITTED,
    STATUS_RUNNING,
    STATUS_SUCCEEDED,
    STATUS_FAILED,
)

# --- AWS Batch limits the submitter obeys (mirrors constructs_batch.limits) ---
#: Array job size (SubmitJob API).
MIN_ARRAY_SIZE: Final = 2
MAX_ARRAY_SIZE: Final = 10_000
#: Job names: 1-128 characters, letters, digits, hyphens and underscores, first alphanumeric.
MAX_JOB_NAME_LENGTH: Final = 128
