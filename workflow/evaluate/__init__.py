"""The evaluation stage: vLLM serving and Inspect runs with retries."""
