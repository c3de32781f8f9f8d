from tests.slurm.cluster import slurm_cluster  # noqa: F401  (session fixture for the Slurm tests)
