"""MinHash signature throughput, MB of paragraph text per second per core: ours, datasketch, rensa.

Every implementation runs single-threaded in this one process (``RAYON_NUM_THREADS=1`` is set
before rensa is imported; numba and numpy use one thread here). Throughput is text megabytes
(UTF-8) divided by CPU seconds of this process (``time.process_time``), i.e. MB/s per core; wall
seconds are reported too. Two views:

* ``signature``: from shingles already made -- ours from the ``shingle_hashes`` arrays, datasketch
  ``MinHash.update_batch`` fed the shingle bytes (its own xxh32 call per shingle), rensa fed the
  shingle strings (or, ``flat hashes``, our hash arrays);
* ``end to end``: from the texts -- shingling included (Python ``shingles()`` for datasketch and
  rensa, whose APIs take tokens).

numba compilation is paid before timing (a warm-up call) and reported separately.

Usage: ``python benchmarks/minhash.py [--mb 50] [--num-perm 128] [--seed 1]``
"""

from __future__ import annotations

import os

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from importlib import metadata  # noqa: E402
from pathlib import Path  # noqa: E402

import datasketch  # noqa: E402
import numpy as np  # noqa: E402
import xxhash  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from synthetic_paragraphs import make_corpus_bytes  # noqa: E402

from corpusclean.dedup.minhash import signatures  # noqa: E402
from corpusclean.dedup.shingles import shingle_hashes, shingles  # noqa: E402


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=50.0, help="megabytes of synthetic paragraphs (default 50)")
    parser.add_argument("--num-perm", type=int, default=128)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "minhash.json")
    args = parser.parse_args()
    P, S = args.num_perm, args.seed

    corpus = make_corpus_bytes(args.mb)
    texts = corpus.texts
    megabytes = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    print(f"{len(texts)} paragraphs, {megabytes:.1f} MB, num_perm={P}, seed={S}")

    _, jit_wall, _ = _timed(lambda: signatures(*shingle_hashes(texts[:50]), num_perm=P, seed=S))
    signatures(*shingle_hashes(texts[:50]), num_perm=P, seed=S, scheme="legacy")

    rows: list[dict] = []

    def record(impl: str, view: str, wall: float, cpu: float, note: str = "") -> None:
        rows.append(
            {"implementation": impl, "view": view, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
             "mb_per_s_per_core": round(megabytes / cpu, 1), "note": note}
        )

    # --- ours ---
    (offsets, hashes), sh_wall, sh_cpu = _timed(lambda: shingle_hashes(texts))
    record("ours", "shingle_hashes only", sh_wall, sh_cpu, "numba UTF-8 scan + XXH32")
    ours = {}
    for scheme in ("affine32", "legacy"):
        ours[scheme], wall, cpu = _timed(lambda: signatures(offsets, hashes, num_perm=P, seed=S, scheme=scheme))
        record(f"ours ({scheme})", "signature", wall, cpu)
        record(f"ours ({scheme})", "end to end", sh_wall + wall, sh_cpu + cpu)

    # --- Python shingling shared by datasketch and rensa ---
    shingle_lists, py_wall, py_cpu = _timed(lambda: [shingles(t) for t in texts])
    record("python shingles()", "shingling only", py_wall, py_cpu, "re.findall + join, reference")
    byte_lists, enc_wall, enc_cpu = _timed(lambda: [[s.encode("utf-8") for s in sl] for sl in shingle_lists])

    # --- datasketch ---
    def run_datasketch(scheme: str) -> np.ndarray:
        # Shared permutations: datasketch would otherwise redraw them for every MinHash.
        template = datasketch.MinHash(P, seed=S, scheme=scheme, hashfunc=xxhash.xxh32_intdigest)
        out = np.empty((len(texts), P), dtype=np.uint64)
        for i, items in enumerate(byte_lists):
            m = datasketch.MinHash(P, seed=S, scheme=scheme, hashfunc=xxhash.xxh32_intdigest,
                                   permutations=template.permutations)
            m.update_batch(items)
            out[i] = m.hashvalues
        return out

    for scheme in ("affine32", "legacy"):
        theirs, wall, cpu = _timed(lambda: run_datasketch(scheme))
        identical = bool(np.array_equal(theirs, ours[scheme]))
        note = "bit-identical to ours" if identical else "MISMATCH with ours"
        record(f"datasketch {datasketch.__version__} ({scheme})", "signature", wall + enc_wall, cpu + enc_cpu,
               note + "; update_batch per paragraph, shingle bytes")
        record(f"datasketch {datasketch.__version__} ({scheme})", "end to end",
               wall + enc_wall + py_wall, cpu + enc_cpu + py_cpu, note)
        if not identical:
            print(f"WARNING: datasketch {scheme} signatures differ from ours", file=sys.stderr)

    # --- rensa ---
    rensa_status = "measured"
    try:
        import rensa
    except ImportError as exc:  # pragma: no cover - depends on the environment
        rensa_status = f"skipped: rensa not importable ({exc}); try `pip install rensa`"
        print(rensa_status)
    else:
        version = metadata.version("rensa")

        def per_object() -> None:
            for items in shingle_lists:
                m = rensa.RMinHash(num_perm=P, seed=S)
                m.update(items)
                m.digest()

        _, wall, cpu = _timed(per_object)
        record(f"rensa {version} RMinHash", "signature", wall, cpu, "one RMinHash per paragraph, update(shingles)")
        record(f"rensa {version} RMinHash", "end to end", wall + py_wall, cpu + py_cpu)
        _, wall, cpu = _timed(lambda: rensa.RMinHash.digest_matrix_from_token_sets(shingle_lists, P, S))
        record(f"rensa {version} RMinHash bulk", "signature", wall, cpu, "digest_matrix_from_token_sets")
        record(f"rensa {version} RMinHash bulk", "end to end", wall + py_wall, cpu + py_cpu)
        _, wall, cpu = _timed(lambda: rensa.RMinHash.digest_matrix_from_flat_token_hashes(hashes, offsets.astype(np.uint64), P, S))
        record(f"rensa {version} RMinHash flat", "signature", wall, cpu, "from our hash arrays (not datasketch-compatible)")
        record(f"rensa {version} RMinHash flat", "end to end", wall + sh_wall, cpu + sh_cpu, "our shingle_hashes + rensa")

    print(f"\nnumba first call (compile or cache load): {jit_wall:.2f} s wall\n")
    header = f"{'implementation':<34} {'view':<20} {'MB/s/core':>10} {'cpu s':>8} {'wall s':>8}  note"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(f"{row['implementation']:<34} {row['view']:<20} {row['mb_per_s_per_core']:>10.1f} "
              f"{row['cpu_s']:>8.2f} {row['wall_s']:>8.2f}  {row['note']}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "benchmark": "minhash",
        "paragraphs": len(texts),
        "megabytes": round(megabytes, 2),
        "num_perm": P,
        "seed": S,
        "throughput_unit": "MB of UTF-8 paragraph text per CPU second of one process (single thread)",
        "numba_first_call_s": round(jit_wall, 2),
        "rensa": rensa_status,
        "machine": {"cpu": _cpu_model(), "cores": os.cpu_count(), "python": platform.python_version()},
        "versions": {p: metadata.version(p) for p in ("numpy", "numba", "datasketch", "xxhash", "polars")},
        "results": rows,
    }, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
