"""PostTrainBench on Slurm: the logic behind the Snakemake rules."""
