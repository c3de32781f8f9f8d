"""The judge stage: deterministic checks with evidence and the LLM verdicts."""
