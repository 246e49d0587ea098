"""Writing a file whole: a reader finds the old content or the new, never a part of either."""

import os

import pytest

from rlbook.files import write_atomically, writing_whole


def test_a_write_that_fails_leaves_the_file_as_it_was_and_no_partial_file(tmp_path):
    path = tmp_path / "progress.json"
    path.write_text("old")
    with pytest.raises(RuntimeError, match="cut"), writing_whole(path) as partial:
        partial.write_text("half of the ne")
        assert path.read_text() == "old"  # nothing is in place before the block ends
        raise RuntimeError("cut")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["progress.json"]


def test_a_whole_write_replaces_the_partial_file_a_killed_one_left(tmp_path):
    path = tmp_path / "config.json"
    (tmp_path / "config.json.tmp").write_text('{"half')  # what a kill left
    write_atomically(path, '{"game": "Catch"}')
    assert path.read_text() == '{"game": "Catch"}'
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_a_shared_file_is_written_beside_it_under_this_process_name(tmp_path):
    path = tmp_path / "update_paths.json"
    with writing_whole(path, shared=True) as partial:
        assert partial == tmp_path / f"update_paths.json.{os.getpid()}.tmp"
        with partial.open("wb") as file:  # writers that want an open file get one too
            file.write(b"{}")
    assert path.read_bytes() == b"{}" and not partial.exists()
