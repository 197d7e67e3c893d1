"""A scale model of phase B: measured at three corpus sizes, fitted per paragraph, extrapolated.

Each size is real text: allsides-dev grown by :func:`real_scale.grow`, 1x, 3x and 7x by default (72,
216 and 506 MB of article text), in one of two ways (``--growth``; :mod:`real_scale` says more):

* ``tiles`` (the default): copy 0 as it is, copy k every article under a letter substitution of its
  own, so K x is K tiles with the real corpus's duplication structure each and nothing shared between
  them. Only the *size* grows: links and templates grow about K-fold, as paragraphs do (at 7x on
  allsides-dev: paragraphs 7.06x, links 7.26x, templates 7.9x; the excess is chrome that phase A's
  English rules do not see in ciphered copies). This is the model of a bigger corpus, and the
  default because the extrapolation to 10^8 and 10^10 paragraphs asks about size.
* ``recrawl``: copy k an edited re-crawl of every article, so at K x every passage stands K times:
  size and *duplication degree* grow together (links 85-fold from 1x to 3x). This models a crawl
  that revisits the same stories K times; its template step grows faster than the paragraphs
  (0.3 and 12.6 s at 1x and 7x since 9502ac0; 0.4, 13, 94 s at 1x, 3x, 7x before).

Phase A runs once per size (``corpusclean extract``, local engine); phase B (``corpusclean dedup
--keep-work``) then runs on that phase-A output with each engine:

* ``local``: the local engine (phase-B tasks in a local process pool of ``--workers``);
* ``ray``: a private Ray the command starts itself (``--workers`` CPUs);
* ``ray2``: a Ray cluster of two nodes on this machine (``ray start --head`` plus a second
  ``ray start --address``, 1 CPU each), joined with ``--address``, stopped afterwards.

Per run it records: wall seconds of each phase-B stage (the manifest's ``dedup_*`` and ``write``
timings), CPU-seconds of every process involved (the command's tree and, for Ray, every ``ray::``
worker), peak RSS of the driver (the ``corpusclean`` process itself) and of the largest other process,
in the whole run and within each stage (``stage_peaks``: the dedup runs as ``run_dedup`` in a process
of its own, :data:`DEDUP_WITH_MARKS`, which writes when each stage starts),
and, from the manifest, phase B's task count and the bytes its tasks wrote for the driver to read
back (``phase_b_tasks``, ``phase_b_task_bytes``: what would cross the network on a cluster).

Then, per stage, a least-squares line ``seconds = a + b * paragraphs`` and, for the driver,
``RSS = a + b * paragraphs``, extrapolated to 10^8 and 10^10 paragraphs: CPU-hours (and hours on this
machine's cores), the driver's memory (one process: whether it fits a node of 24 GiB), and bytes the
tasks hand back. These are
a *model* from three runs on one machine, not measurements at that size.

    python benchmarks/scale_model.py                       # tiles: 1x, 3x, 7x; local, ray, ray2
    python benchmarks/scale_model.py --copies 1,2 --engines local   # a quick look
    python benchmarks/scale_model.py --growth recrawl      # the re-crawl model

Results: ``benchmarks/results/scale-model-tiles.json`` for ``tiles``, ``scale-model.json`` for
``recrawl`` (``--label`` adds ``-<label>``). The JSON records the growth mode, the load average at the
start and end of the run (wall seconds on a shared machine are noisy; RSS and counts are not) and
``--note``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from crawl import environment, write_json  # noqa: E402
from real_corpus import DEFAULT_DATA  # noqa: E402
from real_scale import GROWTH_MODES, grow  # noqa: E402

#: manifest counts kept per run: what the corpus made phase B do
COUNTS = ["documents", "paragraphs", "removed", "links", "links_exact", "links_near", "links_contained",
          "templates_removed", "clusters", "duplicate_paragraphs"]
STAGES = ["dedup_exact", "dedup_near", "dedup_templates", "dedup_contained", "dedup_clusters", "write"]
NODE_GIB = 24
TARGETS = (10**8, 10**10)


class Sampler:
    """Peak RSS of the driver, of the largest other process, and CPU-seconds of all of them.

    "Other" is the driver's descendants and, when ``ray_workers``, every process whose title starts
    with ``ray::`` (a cluster's workers are children of its raylets, not of the driver)."""

    def __init__(self, pid: int, ray_workers: bool, interval: float = 0.05) -> None:
        self.root = psutil.Process(pid)
        self.ray_workers = ray_workers
        self.interval = interval
        self.driver_peak = self.other_peak = 0
        self.timeline: list[tuple[float, int, int]] = []  # (time.time(), driver RSS, largest other RSS)
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _others(self) -> list[psutil.Process]:
        found = {p.pid: p for p in self.root.children(recursive=True)}
        if self.ray_workers:
            for proc in psutil.process_iter(["name", "cmdline"]):
                title = " ".join(proc.info["cmdline"] or []) or proc.info["name"] or ""
                if title.startswith("ray::"):
                    found.setdefault(proc.pid, proc)
        return list(found.values())

    def _run(self) -> None:
        while not self._stop.is_set():
            driver = other = 0
            try:
                driver = self.root.memory_info().rss
                self.driver_peak = max(self.driver_peak, driver)
                self.cpu[self.root.pid] = sum(self.root.cpu_times()[:2])
                others = self._others()
            except psutil.Error:
                others = []
            for proc in others:
                try:
                    other = max(other, proc.memory_info().rss)
                    self.cpu[proc.pid] = sum(proc.cpu_times()[:2])
                except psutil.Error:
                    continue
            self.other_peak = max(self.other_peak, other)
            self.timeline.append((time.time(), driver, other))
            time.sleep(self.interval)

    def stage_peaks(self, marks: list[tuple[int, float]]) -> dict[str, dict[str, float]]:
        """Peak RSS of the driver and of the largest other process within each phase-B stage, the
        stages cut where ``marks`` (``(step index, time.time())``, one at each stage's start and one
        at the end, as ``run_dedup``'s progress callback reports them) say."""
        mib = 1024 * 1024
        peaks = {}
        for (step, start), (_, end) in zip(marks, marks[1:]):
            inside = [(driver, other) for t, driver, other in self.timeline if start <= t < end] or [(0, 0)]
            peaks[STAGES[step]] = {"driver_peak_rss_mib": round(max(d for d, _ in inside) / mib, 1),
                                   "largest_other_rss_mib": round(max(o for _, o in inside) / mib, 1)}
        return peaks

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        mib = 1024 * 1024
        return {"driver_peak_rss_mib": round(self.driver_peak / mib, 1),
                "largest_other_rss_mib": round(self.other_peak / mib, 1),
                "cpu_s": round(sum(self.cpu.values()), 2)}


def _cli(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("corpusclean")), *args]


#: ``corpusclean dedup OUT --keep-work --quiet`` as a Python process of its own that also writes
#: when each phase-B stage starts (``run_dedup``'s progress callback), so that the sampler can give
#: each stage its peak. The command's process settings first: its allocator settings (set when
#: ``corpusclean.cli`` is imported, before polars loads) and ``gc.freeze()`` after the imports.
DEDUP_WITH_MARKS = """
import corpusclean.cli
import gc, json, sys, time
from corpusclean.pipeline import run_dedup
args = json.loads(sys.argv[1])
marks = []
def progress(stage, done, total, _bytes):
    if stage == "dedup":
        marks.append((done, time.time()))
gc.freeze()
run_dedup(args["out"], None, progress, (), True, args["engine"], args["address"], args["workers"])
with open(args["marks"], "w") as out:
    json.dump(marks, out)
"""


def _run(command: list[str], env: dict[str, str], ray_workers: bool, marks: Path | None = None) -> dict:
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    sampler = Sampler(proc.pid, ray_workers)
    _, stderr = proc.communicate()
    measured = sampler.stop()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {proc.returncode}: {stderr.strip()[-2000:]}")
    if marks is not None:
        measured["stage_peaks"] = sampler.stage_peaks(json.loads(marks.read_text("utf-8")))
    return {"wall_s": round(time.perf_counter() - started, 3), **measured}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TwoNodeRay:
    """``ray start --head`` and a second ``ray start --address`` on this machine, 1 CPU each."""

    def __init__(self, env: dict[str, str]) -> None:
        # token authentication, as the README's cluster section says to run one
        self.base = Path(tempfile.mkdtemp(prefix="cc-ray-"))
        (self.base / "token").write_text(secrets.token_hex(32))
        self.env = {**env, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(self.base / "token")}
        ray = str(Path(sys.executable).with_name("ray"))
        common = ["--num-cpus", "1", "--node-ip-address", "127.0.0.1", "--disable-usage-stats"]
        # a head that fails to start (it did once in three runs, after the previous size's cluster
        # had stopped) is tried again on another port, and its own words are kept if it fails twice
        for attempt in range(2):
            self.port = _free_port()
            self.address = f"127.0.0.1:{self.port}"
            head = subprocess.run([ray, "start", "--head", "--port", str(self.port), "--include-dashboard", "false",
                                   *common], env=self.env, capture_output=True, text=True)
            if head.returncode == 0:
                break
            self.stop(keep_base=True)
            if attempt:
                raise RuntimeError(f"ray start --head failed: {head.stderr.strip()[-2000:]}")
        worker = subprocess.run([ray, "start", "--address", self.address, *common], env=self.env,
                                capture_output=True, text=True)
        if worker.returncode != 0:
            self.stop()
            raise RuntimeError(f"ray start --address failed: {worker.stderr.strip()[-2000:]}")

    def stop(self, keep_base: bool = False) -> None:
        # every Ray on the machine: run the benchmark where nothing else uses Ray
        subprocess.run([str(Path(sys.executable).with_name("ray")), "stop", "--force"], env=self.env,
                       capture_output=True)
        if not keep_base:
            shutil.rmtree(self.base, ignore_errors=True)


def measure_size(data: Path, out: Path, engines: list[str], workers: int, env: dict[str, str]) -> dict:
    extract = _run(_cli("extract", str(data), "-o", str(out), "--workers", str(workers), "--quiet", "--fresh"),
                   env, ray_workers=False)
    phase_a = json.loads((out / "_work" / "phase_a.json").read_text("utf-8"))
    rows = {"phase_a": extract, "paragraphs": None, "engines": {}}
    for engine in engines:
        cluster = TwoNodeRay(env) if engine == "ray2" else None
        try:
            marks = out.parent / f"{out.name}-{engine}-marks.json"
            job = {"out": str(out), "engine": "local" if engine == "local" else "ray", "marks": str(marks),
                   "address": cluster.address if cluster else None,
                   "workers": None if engine == "ray2" else workers}
            measured = _run([sys.executable, "-c", DEDUP_WITH_MARKS, json.dumps(job)],
                            cluster.env if cluster else env, ray_workers=engine != "local", marks=marks)
        finally:
            if cluster:
                cluster.stop()
        manifest = json.loads((out / "manifest.json").read_text("utf-8"))
        timings = manifest["timings_seconds"]
        rows["paragraphs"] = manifest["counts"]["paragraphs"] + manifest["counts"].get("templates_removed", 0)
        rows["engines"][engine] = {
            **measured, "stages_s": {stage: timings.get(stage) for stage in STAGES},
            "phase_b_s": round(sum(timings.get(stage) or 0 for stage in STAGES), 3),
            "shuffle_bytes": manifest["counts"].get("phase_b_task_bytes", 0),
            "tasks": manifest["counts"].get("phase_b_tasks", 0), "links": manifest["counts"]["links"],
            "counts": {key: manifest["counts"].get(key) for key in COUNTS},
            "removed_by_reason": manifest.get("removed_by_reason")}
    rows["phase_a_shards"] = len(phase_a["shards"])
    return rows


def fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares ``y = a + b x`` (b alone through the origin when there is one point)."""
    if len(xs) == 1:
        return 0.0, ys[0] / xs[0]
    b, a = np.polyfit(np.asarray(xs, float), np.asarray(ys, float), 1)
    return float(a), float(b)


def model(sizes: dict[str, dict], engine: str, cores: int) -> dict:
    rows = [row for row in sizes.values() if engine in row["engines"]]
    paragraphs = [row["paragraphs"] for row in rows]
    out = {"per_stage": {}, "extrapolated": {}}
    seconds_per = {}
    for stage in STAGES:
        ys = [row["engines"][engine]["stages_s"][stage] or 0.0 for row in rows]
        a, b = fit(paragraphs, ys)
        seconds_per[stage] = b
        out["per_stage"][stage] = {"fixed_s": round(a, 3), "us_per_paragraph": round(b * 1e6, 4)}
    cpu_a, cpu_b = fit(paragraphs, [row["engines"][engine]["cpu_s"] for row in rows])
    rss_a, rss_b = fit(paragraphs, [row["engines"][engine]["driver_peak_rss_mib"] for row in rows])
    shuffle_a, shuffle_b = fit(paragraphs, [row["engines"][engine]["shuffle_bytes"] for row in rows])
    out["cpu_us_per_paragraph"] = round(cpu_b * 1e6, 4)
    out["driver_bytes_per_paragraph"] = round(rss_b * 1024 * 1024, 1)
    out["driver_fixed_mib"] = round(rss_a, 1)
    out["shuffle_bytes_per_paragraph"] = round(shuffle_b, 2)
    for n in TARGETS:
        driver_gib = (rss_a + rss_b * n) / 1024
        cpu_hours = (cpu_a + cpu_b * n) / 3600
        out["extrapolated"][f"{n:.0e}"] = {
            "cpu_hours": round(cpu_hours, 2), "hours_on_one_node": round(cpu_hours / cores, 2),
            "driver_gib": round(driver_gib, 1),
            # the driver is one process: it fits a node or the run does not
            "driver_fits_one_node": bool(driver_gib <= NODE_GIB),
            "shuffle_gib": round((shuffle_a + shuffle_b * n) / 2**30, 1)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--copies", default="1,3,7", help="sizes as copies of the real corpus, comma-separated")
    parser.add_argument("--engines", default="local,ray,ray2")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--growth", choices=GROWTH_MODES, default="tiles",
                        help="how copies k > 0 are made: tiles (size grows, duplication structure kept) or "
                             "recrawl (every story k times: duplication grows with size)")
    parser.add_argument("--label", default="")
    parser.add_argument("--note", default="", help="recorded in the JSON's environment (e.g. other load)")
    args = parser.parse_args(argv)
    engines = [e for e in args.engines.split(",") if e]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    started = time.perf_counter()
    load_start = [round(x, 2) for x in os.getloadavg()]
    sizes: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="corpusclean-scale-model-") as tmp:
        for copies in sorted({int(c) for c in args.copies.split(",")}):
            data = Path(tmp) / f"x{copies}"
            data.mkdir()
            megabytes = grow(args.data, copies, data, mode=args.growth)
            print(f"{copies}x ({args.growth}): {megabytes:.1f} MB of text ...", flush=True)
            sizes[f"{copies}x"] = {"megabytes": round(megabytes, 2),
                                   **measure_size(data, Path(tmp) / f"out{copies}", engines, args.workers, env)}
            shutil.rmtree(data)
            shutil.rmtree(Path(tmp) / f"out{copies}")
    cores = os.cpu_count() or 1
    models = {engine: model(sizes, engine, cores) for engine in engines}
    print(f"\n{'size':<5}{'MB':>7}{'paragraphs':>12}{'engine':>7}{'wall s':>8}{'phase B s':>10}{'CPU s':>8}{'driver MiB':>11}"
          f"{'other MiB':>10}{'shuffle MB':>11}{'tasks':>7}  " + " ".join(f"{s.replace('dedup_', ''):>9}" for s in STAGES))
    for name, row in sizes.items():
        for engine, e in row["engines"].items():
            print(f"{name:<5}{row['megabytes']:>7.0f}{row['paragraphs']:>12,}{engine:>7}{e['wall_s']:>8.2f}{e['phase_b_s']:>10.2f}"
                  f"{e['cpu_s']:>8.1f}{e['driver_peak_rss_mib']:>11.0f}{e['largest_other_rss_mib']:>10.0f}"
                  f"{e['shuffle_bytes'] / 1e6:>11.1f}{e['tasks'] or 0:>7}  "
                  + " ".join(f"{(e['stages_s'][s] or 0):>9.2f}" for s in STAGES))
    print("\nPeak RSS within each stage, MiB (driver / largest other process):")
    for name, row in sizes.items():
        for engine, e in row["engines"].items():
            print(f"  {name:<4}{engine:>6}  " + "  ".join(
                f"{stage.replace('dedup_', '')} {peak['driver_peak_rss_mib']:.0f}/{peak['largest_other_rss_mib']:.0f}"
                for stage, peak in e.get("stage_peaks", {}).items()))
    print("\nModel (least squares over the sizes above; an extrapolation, not a measurement):")
    for engine, m in models.items():
        print(f"  {engine}: driver {m['driver_fixed_mib']:.0f} MiB + {m['driver_bytes_per_paragraph']:.0f} B/paragraph,"
              f" CPU {m['cpu_us_per_paragraph']:.1f} us/paragraph, shuffle {m['shuffle_bytes_per_paragraph']:.1f} B/paragraph")
        for n, e in m["extrapolated"].items():
            print(f"    {n} paragraphs: {e['cpu_hours']:,.1f} CPU-h ({e['hours_on_one_node']:,.1f} h on {cores} cores),"
                  f" driver {e['driver_gib']:,.1f} GiB in one process"
                  f" ({'fits' if e['driver_fits_one_node'] else 'does not fit'} a {NODE_GIB} GiB node),"
                  f" shuffle {e['shuffle_gib']:,.1f} GiB")
    ratio = {}
    for engine in engines:
        peaks = [row["engines"][engine]["driver_peak_rss_mib"] for row in sizes.values() if engine in row["engines"]]
        if len(peaks) > 1:
            ratio[engine] = round(peaks[-1] / peaks[0], 3)
    print(f"\ndriver peak RSS, largest size against smallest: {ratio}")
    result = {"benchmark": "scale-model", "growth": args.growth, "sizes": sizes, "models": models,
              "driver_rss_ratio": ratio,
              "environment": {**environment(), "label": args.label, "note": args.note,
                              "load_average_start": load_start,
                              "load_average_end": [round(x, 2) for x in os.getloadavg()]},
              "benchmark_seconds": round(time.perf_counter() - started, 1)}
    name = "scale-model" + ("-tiles" if args.growth == "tiles" else "") + (f"-{args.label}" if args.label else "")
    write_json(HERE / "results" / f"{name}.json", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
