"""Shard planning: shards are bounded by files and by bytes, and the plan is stable across runs."""

from __future__ import annotations

from corpusclean.readers.discover import InputFile
from corpusclean.shards import plan_shards


def _files(tmp_path, sizes: list[int]) -> list[InputFile]:
    files = []
    for index, size in enumerate(sizes):
        path = tmp_path / f"{index:03d}.txt"
        path.write_bytes(b"x" * size)
        files.append(InputFile(path, f"raw/{path.name}", None))
    return files


def test_shards_close_at_the_byte_limit(tmp_path):
    files = _files(tmp_path, [400, 400, 400, 1500, 100, 100])
    shards = plan_shards(files, shard_files=100, config_hash="c", shard_bytes=1000)
    assert [[f.path.name for f in s.files] for s in shards] == [
        ["000.txt", "001.txt"], ["002.txt"], ["003.txt"], ["004.txt", "005.txt"]]  # a big file alone


def test_shards_close_at_the_file_limit(tmp_path):
    files = _files(tmp_path, [10] * 7)
    assert [len(s.files) for s in plan_shards(files, shard_files=3, config_hash="c", shard_bytes=10**6)] == [3, 3, 1]


def test_shard_names_depend_on_files_and_config_only(tmp_path):
    files = _files(tmp_path, [10] * 5)
    first = [s.name for s in plan_shards(files, 2, "c", 10**6)]
    assert first == [s.name for s in plan_shards(files, 2, "c", 10**6)]
    assert first != [s.name for s in plan_shards(files, 2, "other config", 10**6)]
    assert [s.name[:11] for s in plan_shards(files, 2, "c", 10**6)] == ["shard-00000", "shard-00001", "shard-00002"]


def test_a_settled_worker_has_its_kernels_loaded_and_its_startup_objects_frozen():
    # In a fresh interpreter, since gc.freeze is process-wide: after settle_worker the rule packs and
    # numba kernels exist, and the objects of the imports sit in the permanent generation.
    import subprocess
    import sys

    code = (
        "import gc\n"
        "from corpusclean.config import load_config\n"
        "from corpusclean.clean import Context, context_from_json\n"
        "from corpusclean.dedup.shingles import _shingle_kernel\n"
        "from corpusclean.executors.local import settle_worker\n"
        "context_json = Context.from_config(load_config(None)).to_json()\n"
        "assert gc.get_freeze_count() == 0 and not _shingle_kernel.signatures\n"
        "settle_worker(context_json)\n"
        "print(gc.get_freeze_count(), len(_shingle_kernel.signatures), context_from_json.cache_info().currsize)\n"
    )
    frozen, kernels, contexts = map(int, subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                                         text=True).stdout.split())
    assert frozen > 50_000 and kernels == 1 and contexts == 1
