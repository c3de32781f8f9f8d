"""Regenerates tests/agents/fixtures/ from real CLI runs (after a version bump):
    python tests/agents/make_fixtures.py
Per CLI: <cli>.jsonl = a run plus a resumed run of the same session;
<cli>_exit3.jsonl = a run whose shell command fails with exit code 3.
Job paths are replaced by /job so the files do not depend on the machine.
"""

import os
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import agent_harness as harness  # noqa: E402

FIXTURES = Path(__file__).with_name("fixtures")
RESUME = "You have 2:00 hours left. Keep improving final_model."


def scrub(text: str, job: Path) -> str:
    text = text.replace(str(job), "/job").replace(str(job).replace("/", "-"), "-job")  # Claude's project dir
    return re.sub(r'"/tmp/[^"]*"', '"/tmp/x"', text)  # e.g. Claude's messaging socket


def main():
    FIXTURES.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for cli in harness.PROVIDERS:
            job = harness.make_job(Path(tmp) / cli)
            log = Path(tmp) / f"{cli}.log"
            out = [harness.run_agent(cli, job, log), harness.run_agent(cli, job, log, resume=RESUME)]
            (FIXTURES / f"{cli}.jsonl").write_text(scrub("".join(r.stdout for r in out), job))

            job = harness.make_job(Path(tmp) / f"{cli}_exit3")
            os.environ["FAKE_SHELL_COMMAND"] = "echo oops; exit 3"
            try:
                r = harness.run_agent(cli, job, Path(tmp) / f"{cli}_exit3.log")
            finally:
                del os.environ["FAKE_SHELL_COMMAND"]
            (FIXTURES / f"{cli}_exit3.jsonl").write_text(scrub(r.stdout, job))
            print(cli, [x.rc for x in out], r.rc)


if __name__ == "__main__":
    main()
