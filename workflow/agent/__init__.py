"""The agent stage: job directory, sandbox, cache overlay, GPU checks, the run itself, traces."""
