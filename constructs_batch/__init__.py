"""AWS CDK constructs for AWS Batch: validated at synth, secure and cheap by default."""
