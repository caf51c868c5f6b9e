"""Names and defaults shared by the CSV loader and completion jobs, their job definitions
and the submitter.

Constants only (no imports, no code): the CDK construct imports this module as
``constructs_batch.runtime.csv_loader.loader_contract`` to name the environment
variables it sets, and the jobs read the same names at run time. The event names are
a contract with the teams that subscribe to them.
"""

# --- Set by the job definition (the construct) --------------------------------------------
# DynamoDB table that receives one item per CSV data row.
ENV_TARGET_TABLE_NAME = "TARGET_TABLE_NAME"
# DynamoDB run ledger: one item per object, partition key LEDGER_KEY_ATTRIBUTE.
ENV_LEDGER_TABLE_NAME = "LEDGER_TABLE_NAME"
# Comma-separated header names forming the item key: the table's partition key and
# optional sort key, in that order (1 or 2 names).
ENV_KEY_COLUMNS = "KEY_COLUMNS"
# Comma-separated header names whose values are DynamoDB numbers (Decimal); a value
# that is not a number rejects the row. Every other column is a string.
ENV_NUMERIC_COLUMNS = "NUMERIC_COLUMNS"
# Comma-separated header names whose values are DynamoDB booleans: true or false in any
# letter case; any other value rejects the row. Not a key column, not a numeric column.
ENV_BOOLEAN_COLUMNS = "BOOLEAN_COLUMNS"
# JSON list of strings: a cell equal to one of them is a missing value in every column
# (the attribute is omitted; a key column's missing value rejects the row). The empty
# string always is one, listed or not.
ENV_NULL_VALUES = "NULL_VALUES"
# Prefix of the rejects object, in the CSV's bucket: <prefix><csv key>.errors.csv
ENV_REJECTED_PREFIX = "REJECTED_PREFIX"
# Largest fraction (0-1) of data rows that may be rejected while the run still
# succeeds; above it the run is FAILED (the good rows are written all the same).
ENV_REJECT_THRESHOLD = "REJECT_THRESHOLD"
# BatchWriteItem calls in flight at once.
ENV_WRITE_CONCURRENCY = "WRITE_CONCURRENCY"
# How long one batch of items may keep being retried (throttling, UnprocessedItems,
# 5xx) before the run gives up and fails.
ENV_MAX_RETRY_SECONDS = "MAX_RETRY_SECONDS"
# Seconds between progress log lines.
ENV_PROGRESS_INTERVAL_SECONDS = "PROGRESS_INTERVAL_SECONDS"
# Items per second one object's load may write, all the children loading it together
# (each child paces itself to its share: see the loader README). "" for no ceiling: the
# loader then paces itself only by DynamoDB's throttling.
ENV_MAX_WRITE_RATE = "MAX_WRITE_RATE"

DEFAULT_NUMERIC_COLUMNS = ""
DEFAULT_BOOLEAN_COLUMNS = ""
DEFAULT_NULL_VALUES = '[""]'
DEFAULT_REJECTED_PREFIX = "rejected/"
DEFAULT_REJECT_THRESHOLD = "0.05"
DEFAULT_WRITE_CONCURRENCY = "16"
DEFAULT_MAX_RETRY_SECONDS = "300"
DEFAULT_PROGRESS_INTERVAL_SECONDS = "10"
DEFAULT_MAX_WRITE_RATE = ""

# --- Set per submission (container overrides from the submitter) -------------------------
# Single object:
ENV_CSV_BUCKET = "CSV_BUCKET"
ENV_CSV_KEY = "CSV_KEY"
ENV_CSV_VERSION_ID = "CSV_VERSION_ID"  # "" when the bucket is not versioned
ENV_CSV_ETAG = "CSV_ETAG"
ENV_LEDGER_OBJECT_ID = "LEDGER_OBJECT_ID"
# Array job: "s3://bucket/key" of a JSON list of MANIFEST_FIELD_* objects; child N
# loads entry N (N from AWS_BATCH_JOB_ARRAY_INDEX, set by AWS Batch).
ENV_CSV_MANIFEST = "CSV_MANIFEST"
ENV_ARRAY_INDEX = "AWS_BATCH_JOB_ARRAY_INDEX"
# Set by AWS Batch in each child of an array job: the number of children.
ENV_ARRAY_SIZE = "AWS_BATCH_JOB_ARRAY_SIZE"
MANIFEST_FIELD_BUCKET = "bucket"
MANIFEST_FIELD_KEY = "key"
MANIFEST_FIELD_VERSION_ID = "version_id"
MANIFEST_FIELD_ETAG = "etag"
MANIFEST_FIELD_OBJECT_ID = "object_id"

# --- The image: ENTRYPOINT ``python -m``, each job definition's command names its module --
LOADER_MODULE = "loader_main"
COMPLETION_MODULE = "loader_completion"
PLAN_MODULE = "loader_plan"

# --- Split objects (larger than the pipeline's split threshold) ---------------------------
# The submitter submits, for one large object: a plan job (PLAN_MODULE, with the object's
# ENV_CSV_* and ENV_LEDGER_OBJECT_ID, ENV_PLAN_PARTS and ENV_CSV_PARTS_MANIFEST), then an
# array job of ENV_PLAN_PARTS children with ENV_CSV_PARTS_MANIFEST (child i loads part i)
# after it, then the completion job after the array job.
ENV_CSV_PARTS_MANIFEST = "CSV_PARTS_MANIFEST"
ENV_PLAN_PARTS = "PLAN_PARTS"
# The plan: a JSON object with these fields; "parts" a list of PART_FIELD_* objects.
PLAN_FIELD_OBJECT = "object"  # the MANIFEST_FIELD_* entry of the object
PLAN_FIELD_SIZE = "size"
PLAN_FIELD_SPLIT = "split"
PLAN_FIELD_REASON = "reason"  # why it is not split (loaded whole), or null
PLAN_FIELD_ERROR = "error"  # why it could not be planned (nothing is loaded), or null
PLAN_FIELD_HEADER = "header"
PLAN_FIELD_PARTS = "parts"
PART_FIELD_INDEX = "index"
PART_FIELD_START = "start"
PART_FIELD_END = "end"
PART_FIELD_FIRST_LINE = "first_line"
PART_FIELD_OBJECT_ID = "object_id"  # the part's own ledger item
# A part's ledger item: the object's id and this suffix and the part's index.
PART_ID_SEPARATOR = "#part-"
# On the object's ledger item, written by the plan job:
LEDGER_PARTS = "parts"  # number of parts
LEDGER_SPLIT = "split"  # bool
LEDGER_SPLIT_REASON = "split_reason"

# --- The completion job (submitted after each load job, dependsOn it) ---------------------
# Set by its job definition: ENV_LEDGER_TABLE_NAME and ENV_TARGET_TABLE_NAME (above). Set per
# submission: the load's own object (ENV_CSV_* and ENV_LEDGER_OBJECT_ID) or manifest
# (ENV_CSV_MANIFEST, every entry), and the id of the load job (or array job) it completes:
ENV_LOAD_JOB_ID = "LOAD_JOB_ID"
# One event per object on the account's default event bus: this source, and a detail type
# that says how the object's load ended.
EVENT_SOURCE = "constructs_batch.pipeline"
EVENT_LOAD_COMPLETED = "CsvLoadCompleted"
EVENT_LOAD_FAILED = "CsvLoadFailed"
# The detail field naming the pipeline (its ledger table): rules of one pipeline match it.
EVENT_DETAIL_LEDGER_TABLE = "ledger_table"

# --- Run ledger item -------------------------------------------------------------------------
LEDGER_KEY_ATTRIBUTE = "object_id"
LEDGER_BUCKET = "bucket"  # written by the submitter's claim, with the key and version id
LEDGER_OBJECT_KEY = "key"
LEDGER_VERSION_ID = "version_id"
LEDGER_STATUS = "status"
LEDGER_STARTED_AT = "started_at"  # ISO 8601 UTC, e.g. 2025-01-31T12:00:00.000+00:00
LEDGER_FINISHED_AT = "finished_at"
LEDGER_DURATION_S = "duration_s"  # number (seconds, 3 decimals)
LEDGER_ROWS_LOADED = "rows_loaded"  # number
LEDGER_ROWS_REJECTED = "rows_rejected"  # number
LEDGER_ROWS_DUPLICATE = "rows_duplicate"  # number
LEDGER_REJECTS_KEY = "rejects_key"  # S3 key of the rejects file; absent without rejects
LEDGER_ERROR = "error"  # present only when FAILED
LEDGER_COMPLETED_AT = "completed_at"  # written by the completion job, ISO 8601 UTC
LEDGER_COMPLETION_JOB_ID = "completion_job_id"

STATUS_SUBMITTING = "SUBMITTING"
STATUS_SUBMITTED = "SUBMITTED"
STATUS_RUNNING = "RUNNING"
STATUS_SUCCEEDED = "SUCCEEDED"
STATUS_FAILED = "FAILED"

# --- CloudWatch metrics (embedded metric format lines in the job's log) ------------------
# Set by the job definition: the namespace, and the value of the METRIC_DIMENSION_PIPELINE
# dimension of every metric (the pipeline's ledger table name: one pipeline's metrics never
# mix with another's). Without ENV_METRICS_NAMESPACE the loader publishes no metrics.
ENV_METRICS_NAMESPACE = "METRICS_NAMESPACE"
ENV_METRICS_PIPELINE = "METRICS_PIPELINE"
METRIC_DIMENSION_PIPELINE = "Pipeline"
# Counts (unit Count) since the previous metrics line of the run, so that their Sum over a
# period is what happened in it: data rows read, items loaded (written; the run's last line
# subtracts the rows a later duplicate superseded, so the sum over a run is the ledger's
# rows_loaded), rows rejected, rows superseded by a duplicate key (last line only),
# BatchWriteItem calls DynamoDB throttled (an error or UnprocessedItems), runs finished (1 on
# a run's last line: a whole object, or one part of a split one).
METRIC_ROWS_READ = "RowsRead"
METRIC_ROWS_LOADED = "RowsLoaded"
METRIC_ROWS_REJECTED = "RowsRejected"
METRIC_ROWS_DUPLICATE = "RowsDuplicate"
METRIC_THROTTLED_CALLS = "ThrottledCalls"
METRIC_PARTS_DONE = "PartsDone"
# Rows read per second since the previous line, by one job (unit Count/Second).
METRIC_ROWS_PER_SECOND = "RowsPerSecond"

# --- Process exit codes ------------------------------------------------------------------
# A load that ends FAILED (a bad file) exits 0 once its outcome is recorded: the job did its
# part, and AWS Batch runs the completion job only after a load job that SUCCEEDED.
EXIT_SUCCEEDED = 0  # the outcome is recorded (the loader: SUCCEEDED or FAILED)
EXIT_FAILED = 1  # the outcome could not be recorded (or, completion: events not published)
EXIT_CONFIGURATION_ERROR = 2  # bad or missing environment: nothing was loaded or recorded
