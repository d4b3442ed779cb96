"""Fault injection against the local index: is every kind of damage and crash caught?

For each fault, the table says "held" or what went wrong.  Faults:

* damage: every kind of file of an index generation (each Whoosh segment file,
  each sidecar array, the checksum files, the TOC, the SQLite tables, the saved
  suggestion table, searcher.json) gets 64 flipped bytes, is cut to half its
  length, or is deleted; CURRENT is emptied, filled with bad bytes, deleted.
  After each: every query must give the clean index's answer or raise
  IndexCorruptError naming the damaged file (no other exception, no wrong
  answer); ``check(deep=True)`` must name the file (or find nothing when the
  answers were all right and the file is rewritten by every run); ``index
  --full`` must succeed, and then every answer must be right again.
* kill: ``searcher index`` (one process, ``-j 1``) is sent SIGKILL just before
  its n-th file operation (open for writing, rename, replace, remove, mkdir,
  rmtree; counted by an audit hook in the child), for a first build and for an
  incremental run; then the index must open with no damage (``check --deep``)
  and a plain re-run must bring it to the right answers.
* disk full: the same two runs on a small tmpfs (as root; skipped otherwise), at
  several sizes: each must end with exit 2 ("free some disk space") or succeed,
  never exit 3, and after space is freed a re-run must give the right answers.

    python bench/faults.py [--corpus ../shared/corpus/rsshub] [--kills 12]

Runs in a few minutes on 2 cores; prints one table per group and a summary.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from searcher import IndexCorruptError, SearchEngine, SearcherError  # noqa: E402
from searcher.local.storage import IndexDir  # noqa: E402

PHRASES = 8
WORDS = ["开发", "中国", "数据", "应用", "发展", "技术", "市场", "用户"]
PINYIN = ["kubernetes", "shuju", "yingyong"]
PREFIXES = ["开", "数据", "kaif"]


def queries_for(corpus: Path) -> list[str]:
    """Plain words, and quoted phrases cut from the corpus's own lines (exact matches)."""
    found = []
    for path in sorted(corpus.rglob("*.md"))[:: max(1, len(list(corpus.rglob("*.md"))) // 12)]:
        text = path.read_text(encoding="utf-8", errors="replace")
        body = "".join(ch for ch in text.split("---", 2)[-1] if "\u4e00" <= ch <= "\u9fff")
        if len(body) > 200:
            found.append(f'"{body[100:105]}"')
        if len(found) >= PHRASES:
            break
    return WORDS + found + PINYIN


def answers(index: Path, queries: list[str], ordered: bool = True) -> dict:
    """Each query's ids in rank order (or the error it raised), with a fresh engine.

    Not *ordered*: every matching id, sorted (an index updated in place ranks a little
    differently from a fresh build, its deleted documents still counting in the
    statistics, but must match the same documents)."""
    out: dict = {}
    engine = SearchEngine(str(index))
    try:
        for q in queries:
            try:
                res = engine.search(q, limit=20 if ordered else 100)
                ids = [h.id for h in res.hits]
                out[q] = (ids if ordered else sorted(ids)) + [res.total]
            except IndexCorruptError as exc:
                out[q] = {"corrupt": exc.path}
            except SearcherError as exc:
                out[q] = {"error": f"{type(exc).__name__}: {exc}"}
            except Exception as exc:  # noqa: BLE001 - what the probe is looking for
                out[q] = {"bug": f"{type(exc).__name__}: {exc}"[:200]}
        for p in PREFIXES if ordered else ():
            key = f"suggest:{p}"
            try:
                out[key] = [s.text for s in engine.suggest(p, 10)]
            except IndexCorruptError as exc:
                out[key] = {"corrupt": exc.path}
            except Exception as exc:  # noqa: BLE001
                out[key] = {"bug": f"{type(exc).__name__}: {exc}"[:200]}
    finally:
        engine.close()
    return out


def judge(got: dict, want: dict, damaged: str | None) -> str | None:
    """None when every answer is right or a clear IndexCorruptError naming *damaged*."""
    for key, value in want.items():
        answer = got.get(key)
        if answer == value:
            continue
        if isinstance(answer, dict) and "corrupt" in answer:
            if damaged is None or Path(answer["corrupt"]).name == damaged:
                continue
            return f"{key}: corrupt error names {Path(answer['corrupt']).name}"
        if isinstance(answer, dict):
            return f"{key}: {next(iter(answer.values()))}"
        return f"{key}: wrong answer"
    return None


def _index(index: Path, corpus: Path, full: bool = False) -> None:
    logging.disable(logging.WARNING)
    try:
        with SearchEngine(str(index)) as engine:
            engine.index([str(corpus)], full=full, jobs=1, batch_size=30)
    finally:
        logging.disable(logging.NOTSET)


def _deep(index: Path, corpus: Path) -> list[str]:
    with SearchEngine(str(index)) as engine:
        try:
            engine.check([str(corpus)], deep=True)
        except IndexCorruptError as exc:
            return [Path(p).name for p in exc.files]
    return []


# -- damage ---------------------------------------------------------------------------------


def file_kinds(gen: Path) -> dict[str, Path]:
    """One file of each kind in a generation: MAIN_<id>.trm -> "trm" (first segment)."""
    kinds: dict[str, Path] = {}
    for path in sorted(gen.iterdir()):
        if not path.is_file() or path.name in ("MAIN_WRITELOCK",):
            continue
        name = path.name
        kind = name.split(".", 1)[1] if name.startswith("MAIN_") else (
            "toc" if name.endswith(".toc") else name)
        kinds.setdefault(kind, path)
    return kinds


def damage(path: Path, how: str, rng: random.Random) -> None:
    if how == "delete":
        path.unlink()
    elif how == "truncate":
        size = path.stat().st_size
        os.truncate(path, size // 2)
    elif how == "flip":
        data = bytearray(path.read_bytes())
        if not data:
            return
        start = rng.randrange(0, max(1, len(data) - 64)) if len(data) > 64 else 0
        for k in range(start, min(len(data), start + 64)):
            data[k] ^= 0xFF if rng.random() < 0.5 else rng.randrange(1, 256)
        path.write_bytes(bytes(data))


def run_damage(clean: Path, corpus: Path, work: Path, want: dict, queries: list[str],
               only: str | None) -> list[tuple[str, str]]:
    rng = random.Random(27)
    rows = []
    gen = IndexDir(clean).current().path
    kinds = file_kinds(gen)
    cases = [(kind, how) for kind in sorted(kinds) for how in ("flip", "truncate", "delete")]
    cases += [("CURRENT", how) for how in ("empty", "bad bytes", "delete")]
    for number, (kind, how) in enumerate(cases):
        if only and only not in kind:
            continue
        index = work / f"damage-{number}"
        shutil.copytree(clean, index)
        gen_copy = index / gen.name
        if kind == "CURRENT":
            target = index / "CURRENT"
            if how == "empty":
                target.write_bytes(b"")
            elif how == "bad bytes":
                target.write_bytes(b"\xff\xfe\x00gen-\x80\x81")
            else:
                target.unlink()
            damaged = None
        else:
            target = gen_copy / kinds[kind].name
            damage(target, how, rng)
            damaged = target.name
        verdict = _after_damage(index, corpus, want, queries, damaged, kind)
        rows.append((f"{how} {kind}", verdict))
        shutil.rmtree(index, ignore_errors=True)
    return rows


#: Files a search rewrites itself when it finds them damaged (with a warning), so that the
#: check that follows finds nothing.
REPAIRED_BY_SEARCH = {"suggest.table", "suggest.base"}


def _after_damage(index: Path, corpus: Path, want: dict, queries: list[str],
                  damaged: str | None, kind: str) -> str:
    problems = []
    got = answers(index, queries)
    wrong = judge(got, want, damaged)
    if wrong:
        problems.append(f"search: {wrong}")
    noticed = any(isinstance(v, dict) for v in got.values())
    try:
        found = _deep(index, corpus)
    except Exception as exc:  # noqa: BLE001
        found = []
        problems.append(f"check --deep: {type(exc).__name__}: {exc}"[:120])
    if damaged is not None and damaged not in found and kind not in REPAIRED_BY_SEARCH:
        problems.append(f"check --deep did not name it ({found or 'nothing'})")
    if damaged is None and found:
        problems.append(f"check --deep names {found}")
    try:
        _index(index, corpus, full=True)
    except Exception as exc:  # noqa: BLE001
        problems.append(f"index --full: {type(exc).__name__}: {exc}"[:160])
        return "; ".join(problems)
    wrong = judge(answers(index, queries), want, None)
    if wrong:
        problems.append(f"after index --full: {wrong}")
    if _deep(index, corpus):
        problems.append("damage left after index --full")
    if problems:
        return "; ".join(problems)
    return "held" + (" (error named the file)" if noticed else "")


# -- kills and disk full ----------------------------------------------------------------------

HOOK = r"""
import os, signal, sys
limit = int(os.environ["FAULT_KILL_AT"])
count = [0]
WRITE_EVENTS = {"os.rename", "os.replace", "os.remove", "os.unlink", "os.rmdir", "os.mkdir",
                "shutil.rmtree", "os.truncate", "shutil.copyfile"}
def hook(event, args):
    if event == "open":
        mode, flags = args[1], args[2]
        if not ((isinstance(mode, str) and any(c in mode for c in "wax+"))
                or (isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR))):
            return
    elif event not in WRITE_EVENTS:
        return
    count[0] += 1
    if count[0] == limit:
        os.kill(os.getpid(), signal.SIGKILL)
sys.addaudithook(hook)
import atexit
if limit == 0:
    atexit.register(lambda: open(os.environ["FAULT_COUNT_FILE"], "w").write(str(count[0])))
from searcher.cli import main
sys.argv = ["searcher"] + sys.argv[1:]
main()
"""


def _cli(args: list[str], env: dict | None = None, preexec=None) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.run([sys.executable, "-c", HOOK, *args], env=full_env,
                          capture_output=True, text=True, timeout=600, preexec_fn=preexec)


def _count_ops(args: list[str], work: Path) -> int:
    count_file = work / "ops.count"
    done = _cli(args, {"FAULT_KILL_AT": "0", "FAULT_COUNT_FILE": str(count_file)})
    if done.returncode not in (0, 1):
        raise RuntimeError(f"counting run failed: {done.stderr[-500:]}")
    return int(count_file.read_text())


def _incremental_setup(corpus: Path, work: Path) -> tuple[Path, Path]:
    """(source folder, index of it) where the folder then gets a day's changes: the base
    of an incremental run (built once per work folder)."""
    source, base = work / "source", work / "kill-base"
    if not base.exists():
        shutil.copytree(corpus, source)
        _index(base, source)
        _change(source)
    return source, base


def _change(changed: Path) -> None:
    """A day's changes: 5 files edited, 3 deleted, 4 added."""
    files = sorted(changed.rglob("*.md"))
    for path in files[:5]:
        path.write_text(path.read_text(encoding="utf-8") + "\n\n补充说明：故障测试修改。\n",
                        encoding="utf-8")
    for path in files[-3:]:
        path.unlink()
    for k, path in enumerate(files[5:9]):
        shutil.copyfile(path, changed / f"zz-added-{k}.md")


def run_kills(corpus: Path, work: Path, queries: list[str], kills: int) -> list[tuple[str, str]]:
    rows = []
    changed, base = _incremental_setup(corpus, work)
    want_changed = answers(_fresh(changed, work / "ref-changed"), queries, False)
    want_base = answers(base, queries, False)
    scenarios = [
        ("first build", None, corpus,
         answers(_fresh(corpus, work / "ref-first"), queries, False)),
        ("incremental", base, changed, want_changed),
    ]
    for label, start, source, want in scenarios:
        args = ["index", str(source), "-d", "{index}", "-j", "1", "--batch-size", "30", "-q"]
        probe = work / "kill-count"
        _prepare(start, probe)
        total = _count_ops([a.replace("{index}", str(probe)) for a in args], work)
        shutil.rmtree(probe, ignore_errors=True)
        points = sorted({max(1, round(1 + k * (total - 1) / max(1, kills - 1)))
                         for k in range(kills)}) if kills < total else list(range(1, total + 1))
        held = 0
        failures = []
        for at in points:
            index = work / f"kill-{label.replace(' ', '-')}-{at}"
            _prepare(start, index)
            done = _cli([a.replace("{index}", str(index)) for a in args],
                        {"FAULT_KILL_AT": str(at)})
            problem = _after_kill(index, source, done, want, want_base if start else None,
                                  queries)
            if problem:
                failures.append(f"op {at}: {problem}")
            else:
                held += 1
            shutil.rmtree(index, ignore_errors=True)
        rows.append((f"SIGKILL {label}, {len(points)} of {total} file operations",
                     "held" if not failures else f"{held} held; " + "; ".join(failures[:3])))
    return rows


def _prepare(start: Path | None, index: Path) -> None:
    shutil.rmtree(index, ignore_errors=True)
    if start is not None:
        shutil.copytree(start, index)


def _fresh(corpus: Path, index: Path) -> Path:
    if not index.exists():
        _index(index, corpus)
    return index


def _after_kill(index: Path, source: Path, done: subprocess.CompletedProcess, want: dict,
                before: dict | None, queries: list[str]) -> str | None:
    if done.returncode not in (-9, 0, 1):
        return f"exit {done.returncode}: {done.stderr.strip()[-200:]}"
    if IndexDir(index).current() is not None:
        got = answers(index, queries, False)
        if judge(got, want, None) and (before is None or judge(got, before, None)):
            # A run killed mid-way may leave some changes committed and others not:
            # only errors are failures here, not a mix of old and new answers.
            bad = [k for k, v in got.items() if isinstance(v, dict)]
            if bad:
                return f"after the kill, {bad[0]}: {got[bad[0]]}"
        found = _deep(index, source)
        if found:
            return f"the kill left damage: {found}"
    rerun = _cli(["index", str(source), "-d", str(index), "-j", "1", "--batch-size", "30",
                  "-q"], {"FAULT_KILL_AT": "-1"})
    if rerun.returncode not in (0, 1):
        return f"re-run exit {rerun.returncode}: {rerun.stderr.strip()[-200:]}"
    wrong = judge(answers(index, queries, False), want, None)
    return f"after the re-run: {wrong}" if wrong else None


def run_disk_full(corpus: Path, work: Path, queries: list[str]) -> list[tuple[str, str]]:
    if os.geteuid() != 0:
        return [("disk full", "skipped (needs root for a small tmpfs)")]
    rows = []
    changed, base = _incremental_setup(corpus, work)
    want = {"first build": answers(_fresh(corpus, work / "ref-first"), queries, False),
            "incremental": answers(_fresh(changed, work / "ref-changed"), queries, False)}
    base_bytes = sum(p.stat().st_size for p in base.rglob("*") if p.is_file())
    for label, start, source in (("first build", None, corpus), ("incremental", base, changed)):
        for fraction in (0.1, 0.5, 0.9, 1.05):
            size = int(base_bytes * fraction) if start is None else int(base_bytes * (
                1 + fraction * 0.3))
            mount = work / f"tmpfs-{label.replace(' ', '-')}-{fraction}"
            mount.mkdir()
            subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
                           check=True)
            try:
                index = mount / "index"
                if start is not None:
                    try:
                        shutil.copytree(start, index)
                    except OSError:
                        rows.append((f"disk full {label} at {size // 1024} KiB",
                                     "skipped (the index does not fit)"))
                        continue
                done = _cli(["index", str(source), "-d", str(index), "-j", "1",
                             "--batch-size", "30", "-q"], {"FAULT_KILL_AT": "-1"})
                verdict = _after_full(index, source, done, want[label], queries, mount, work)
                rows.append((f"disk full {label} at {size // 1024} KiB "
                             f"(exit {done.returncode})", verdict))
            finally:
                subprocess.run(["umount", str(mount)], check=False)
                shutil.rmtree(mount, ignore_errors=True)
    return rows


def _after_full(index: Path, source: Path, done: subprocess.CompletedProcess, want: dict,
                queries: list[str], mount: Path, work: Path) -> str:
    if done.returncode not in (0, 1, 2):
        return f"exit {done.returncode}: {done.stderr.strip()[-200:]}"
    if done.returncode == 2 and "disk" not in done.stderr:
        return f"exit 2 without naming the full disk: {done.stderr.strip()[-200:]}"
    if done.returncode == 2 and str(mount) not in done.stderr and "cannot write:" not in \
            done.stderr:
        named = done.stderr.split("cannot write ", 1)[-1].split(":", 1)[0]
        return f"exit 2, but the message names {named}, on another file system"
    moved = work / "after-full"
    shutil.rmtree(moved, ignore_errors=True)
    if index.exists():
        shutil.copytree(index, moved)  # "free some disk space": the same index, elsewhere
    if IndexDir(moved).current() is not None:
        found = _deep(moved, source)
        if found:
            return f"the full disk left damage: {found}"
    rerun = _cli(["index", str(source), "-d", str(moved), "-j", "1", "--batch-size", "30",
                  "-q"], {"FAULT_KILL_AT": "-1"})
    if rerun.returncode not in (0, 1):
        return f"re-run exit {rerun.returncode}: {rerun.stderr.strip()[-200:]}"
    wrong = judge(answers(moved, queries, False), want, None)
    shutil.rmtree(moved, ignore_errors=True)
    return f"after the re-run: {wrong}" if wrong else "held"


def _table(title: str, rows: list[tuple[str, str]]) -> int:
    width = max([len(r[0]) for r in rows] + [len(title)])
    print(f"\n{title}\n{'fault'.ljust(width)}  result\n{'-' * width}  {'-' * 40}")
    for fault, verdict in rows:
        print(f"{fault.ljust(width)}  {verdict}")
    return sum(1 for _, v in rows if not v.startswith(("held", "skipped")))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared/corpus/rsshub")
    parser.add_argument("--kills", type=int, default=12,
                        help="kill points per scenario, spread over its file operations")
    parser.add_argument("--only", choices=("damage", "kill", "disk"), default=None)
    parser.add_argument("--kind", help="only damage file kinds containing this")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    os.environ.setdefault("SEARCHER_CACHE_DIR", str(Path(tempfile.gettempdir()) /
                                                    "searcher-faults-cache"))
    # Damage to derived files is reported with a warning each time: expected here.
    logging.getLogger("searcher").setLevel(logging.ERROR)
    work = Path(tempfile.mkdtemp(prefix="searcher-faults-"))
    started = time.monotonic()
    corpus = args.corpus.resolve()
    queries = queries_for(corpus)
    failed = 0
    try:
        clean = work / "clean"
        _index(clean, corpus)
        want = answers(clean, queries)
        assert not any(isinstance(v, dict) for v in want.values()), want
        print(f"corpus {corpus} ({len(list(corpus.rglob('*.md')))} files), "
              f"{len(queries)} queries + {len(PREFIXES)} suggestions per check")
        if args.only in (None, "damage"):
            failed += _table("damaged files (64 flipped bytes / cut to half / deleted)",
                             run_damage(clean, corpus, work, want, queries, args.kind))
        if args.only in (None, "kill"):
            failed += _table("SIGKILL of 'searcher index -j 1' before a file operation",
                             run_kills(corpus, work, queries, args.kills))
        if args.only in (None, "disk"):
            failed += _table("disk full (tmpfs)", run_disk_full(corpus, work, queries))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work folder kept: {work}")
    print(f"\n{failed} fault(s) not held; {time.monotonic() - started:.0f} s")
    with contextlib.suppress(OSError):
        print(f"load: {os.getloadavg()[0]:.2f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
