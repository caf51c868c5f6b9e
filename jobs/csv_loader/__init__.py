"""CSV loader Batch job: stream a CSV object from S3 into DynamoDB."""
