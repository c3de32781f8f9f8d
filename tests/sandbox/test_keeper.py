"""Files an agent deletes during its run stay readable for the judge; files left in place are not duplicated."""

import time

from workflow.agent.keeper import keep_deleted_files, keep_once


def test_deleted_and_replaced_files_are_kept_and_the_rest_dropped(tmp_path):
    job, tmp, kept = tmp_path / "job", tmp_path / "tmp", tmp_path / "kept"
    job.mkdir()
    tmp.mkdir()
    (job / "final_model").mkdir()
    with keep_deleted_files({"job": job, "tmp": tmp}, kept, interval=0.1):
        (tmp / "work").mkdir()
        (tmp / "work" / "train.jsonl").write_text('{"q": "secret test item"}\n')
        (job / "notes.txt").write_text("first version\n")
        (job / "stays.jsonl").write_text("{}\n")
        (job / "final_model" / "model.safetensors").write_bytes(b"\0" * 64)
        time.sleep(0.6)
        (tmp / "work" / "train.jsonl").unlink()  # trained on, then deleted
        (job / "notes.txt").unlink()
        (job / "notes.txt").write_text("second version\n")  # replaced under the same name
    files = sorted(p.relative_to(kept).as_posix() for p in kept.rglob("*") if p.is_file())
    assert files == [f"job/notes.txt.replaced-{(kept / files[0]).stat().st_ino}", "tmp/work/train.jsonl"]
    assert (kept / "tmp/work/train.jsonl").read_text() == '{"q": "secret test item"}\n'
    assert (kept / files[0]).read_text() == "first version\n"


def test_a_run_that_deletes_nothing_leaves_no_folder(tmp_path):
    (tmp_path / "job").mkdir()
    with keep_deleted_files({"job": tmp_path / "job"}, tmp_path / "kept", interval=0.1):
        (tmp_path / "job" / "a.jsonl").write_text("{}\n")
        time.sleep(0.3)
    assert not (tmp_path / "kept").exists()


def test_the_clis_own_command_outputs_are_never_linked(tmp_path):
    # Claude Code kills a command whose output file (in /tmp/claude-<uid>/) gains a second link.
    job, tmp, kept = tmp_path / "job", tmp_path / "tmp", tmp_path / "kept"
    output = tmp / "claude-0" / "-job" / "session" / "tasks" / "b1.output"
    output.parent.mkdir(parents=True)
    output.write_text("training step 1\n")
    (tmp / "items.jsonl").write_text('{"q": "test item"}\n')
    job.mkdir()
    keep_once({"job": job, "tmp": tmp}, kept)
    assert output.stat().st_nlink == 1
    assert (tmp / "items.jsonl").stat().st_nlink == 2  # data the agent wrote is still watched
