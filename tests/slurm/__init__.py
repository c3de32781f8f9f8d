"""Tests and fixtures that run against a real single-node Slurm cluster."""
