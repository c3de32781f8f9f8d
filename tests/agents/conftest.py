import sys
from pathlib import Path

# The repo root, for `workflow.agent.traces` when pytest is not started from there.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
