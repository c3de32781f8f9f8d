"""Software and data for jobs: container images, the HF cache prefetch, the embedded model."""
