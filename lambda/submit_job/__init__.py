"""Submitter Lambda: S3 events from SQS -> AWS Batch SubmitJob."""
