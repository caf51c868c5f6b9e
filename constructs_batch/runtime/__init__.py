"""Runtime code shipped with the library: the pipeline's Lambda handler and Batch job."""
