"""The bigram index persisted at index time gives exactly what a linear scan gives.

It is written by the worker that writes a segment, for every segment Whoosh
merges in an incremental run, by ``optimize``, and for segments of older indexes
by the next index run.  Checked on real 新闻联播 transcripts against an oracle
that knows nothing of the index: Python's own ``str.find`` over each document's
squeezed text, derived again from the stored title and display text.
"""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED, needs_shared

from searcher import SearchEngine
from searcher.analysis.normalize import squeeze
from searcher.core.rules import FIELD_BREAK
from searcher.local import substrings, text_index
from searcher.local.inspection import internals
from searcher.local.sidecar import segment_folder, sidecar_path
from searcher.local.whoosh_adapter import reader_segment_id

pytestmark = needs_shared
XWLB = SHARED / "corpus" / "xwlb" / "news"
SEED = 11


def xwlb_files(start: int, count: int) -> list[Path]:
    return sorted(XWLB.glob("*.md"))[start : start + count]


def copy_files(files: list[Path], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for path in files:
        shutil.copy(path, folder / path.name)


def leaf_readers(engine: SearchEngine) -> list:
    searcher = internals(engine).searcher()
    return [leaf.reader() for leaf, _ in searcher.leaf_searchers()]


def column_texts(reader) -> list[str]:
    return substrings.squeezed_texts(reader)


def occurrences(text: str, needle: str) -> list[int]:
    """Every start of *needle* in *text*, overlapping ones included."""
    found, at = [], text.find(needle)
    while at >= 0:
        found.append(at)
        at = text.find(needle, at + 1)
    return found


def oracle(texts: list[str], needle: str) -> dict[int, tuple[int, int]]:
    """document → (occurrences in the title part, in the body part), by linear scan."""
    out = {}
    for doc, text in enumerate(texts):
        starts = occurrences(text, needle)
        if starts:
            cut = max(text.find(FIELD_BREAK), 0)
            title = sum(1 for s in starts if s < cut)
            out[doc] = (title, len(starts) - title)
    return out


def needles(texts: list[str], rng: random.Random, n: int) -> list[str]:
    """Runs of 1–8 characters from the texts, plus a few that occur nowhere."""
    out = []
    for _ in range(n):
        text = rng.choice([t for t in texts if len(t) > 20])
        size = rng.choice((1, 2, 2, 3, 4, 6, 8))
        start = rng.randrange(len(text) - size)
        out.append(text[start : start + size].replace(FIELD_BREAK, "的"))
    return out + ["聊城市场监管局认证认可", "zzzq", "\U00020000"]


def assert_bigram_index(index, codes: np.ndarray) -> None:
    """*index* equals the bigram index computed the slow, obvious way from *codes*."""
    clipped = np.minimum(codes, 0xFFFF)
    keys = clipped << 16 | np.concatenate((clipped[1:], [0]))
    order = np.argsort(keys, kind="stable")
    assert np.array_equal(index.decode(0, len(index.keys)), order)
    distinct = np.unique(keys)
    assert np.array_equal(index.keys, distinct)
    bounds = np.searchsorted(np.sort(keys), np.append(distinct, 1 << 40))
    for group in range(0, len(distinct), max(1, len(distinct) // 500)):
        assert np.array_equal(index.decode(group, group + 1),
                              order[bounds[group] : bounds[group + 1]])


def check_segments(engine: SearchEngine, rng: random.Random) -> int:
    """Every segment has a persisted bigram index that equals an independent sort of its
    text and answers random needles as the linear scan does; returns the segment count."""
    readers = leaf_readers(engine)
    caches = internals(engine).caches
    for reader in readers:
        folder, segment_id = segment_folder(reader), reader_segment_id(reader)
        for key in substrings.BIGRAMS_KEYS:
            assert sidecar_path(folder, segment_id, substrings.BIGRAMS_SIDECAR, key).exists()
        seg = substrings.segment_text(reader, caches)
        assert seg.bigrams is not None
        assert isinstance(seg.bigrams.stream, np.memmap)  # page cache, not process memory
        assert seg.codes is None  # no copy of the text in process memory
        texts = column_texts(reader)
        codes = np.array([ord(c) for c in "\x00".join(texts) + "\x00"], dtype=np.int64)
        assert_bigram_index(seg.bigrams, codes)
        for needle in needles(texts, rng, 40):
            found = seg.find(needle)
            got = {int(d): (int(t), int(b)) for d, t, b in
                   zip(found.ids, found.title, found.body, strict=True)}
            assert got == oracle(texts, needle), needle
            assert seg.count(needle) == len(found), needle
    check_joined(engine, rng)
    assert caches.char_index.stats().entries == 0  # nothing was sorted in this process
    return len(readers)


def check_joined(engine: SearchEngine, rng: random.Random) -> None:
    """Every segment searched at once (SpaceText) finds what the oracle finds over all the
    texts, documents numbered across segments, and whole numbers as each segment does."""
    leaves = internals(engine).searcher().leaf_searchers()
    caches = internals(engine).caches
    segments = [substrings.segment_text(leaf.reader(), caches) for leaf, _ in leaves]
    joined = substrings.SpaceText.join(segments, [offset for _, offset in leaves])
    assert joined is not None
    texts = [t for leaf, _ in leaves for t in column_texts(leaf.reader())]
    digits = [m for t in texts[:40] for m in re.findall(r"\d+[万年月日]|\d{2,}", t)][:30]
    asked = needles(texts, rng, 80) + digits
    default = substrings.KEEP_DECODED_FROM
    try:  # then groups of 64 bytes and more kept decoded, and found again from there
        for keep_from in (default, 64, 64):
            substrings.KEEP_DECODED_FROM = keep_from
            at_once = check_needles(joined, segments, [offset for _, offset in leaves],
                                    texts, asked)
            assert at_once > len(asked) // 4, (keep_from, at_once)
    finally:
        substrings.KEEP_DECODED_FROM = default
    assert caches.postings.stats().entries > 0


def check_needles(joined: substrings.SpaceText, segments: list[substrings.SegmentText],
                  offsets: list[int], texts: list[str], asked: list[str]) -> int:
    """Check each needle found at once; returns how many were (the others, SpaceText says
    by returning None, go segment by segment: one character, a code point above U+FFFE,
    or thousands of candidates a segment)."""
    at_once = 0
    for needle in asked:
        found = joined.find(needle)
        if found is None:
            assert joined.count(needle) is None, needle
            # its rarest bigram has KEEP_DECODED_FROM bytes or more (up to 5 a position)
            rarest = min((sum(len(occurrences(t, needle[k : k + 2])) for t in texts)
                          for k in range(len(needle) - 1)), default=0)
            assert len(needle) < 2 or max(map(ord, needle)) >= 0xFFFF \
                or rarest >= substrings.KEEP_DECODED_FROM // 5, needle
            continue
        at_once += 1
        got = {int(d): (int(t), int(b)) for d, t, b in
               zip(found.ids, found.title, found.body, strict=True)}
        assert got == oracle(texts, needle), needle
        assert joined.count(needle) == len(got), needle
        whole = joined.find(needle, whole_numbers=True)
        assert whole is not None
        each = [(seg.find(needle, whole_numbers=True), offset)
                for seg, offset in zip(segments, offsets, strict=True)]
        assert whole.ids.tolist() == [int(d) + offset for part, offset in each
                                      for d in part.ids], needle
    return at_once


def test_new_and_merged_segments(tmp_path: Path) -> None:
    """A parallel build, then incremental runs whose small segments Whoosh merges."""
    rng = random.Random(SEED)
    docs = tmp_path / "docs"
    copy_files(xwlb_files(0, 120), docs / "a")
    engine = SearchEngine(tmp_path / "ix")
    engine.index([docs], jobs=2, batch_size=40)
    assert check_segments(engine, rng) >= 2
    runs = 1
    for k in range(8):  # small runs: Whoosh's policy merges the small segments
        copy_files(xwlb_files(120 + 15 * k, 15), docs / f"b{k}")
        engine.index([docs], jobs=1)
        runs += 1
    segments = check_segments(engine, rng)
    assert segments < runs + 2  # some segments were merged (each run adds one)
    results = engine.search('"新闻联播"', limit=5)
    assert results.total >= 200
    engine.close()


def test_older_index_gets_its_indexes_on_the_next_run(tmp_path: Path) -> None:
    """Segments written without the persisted index get it from the next (no-change) run."""
    docs = tmp_path / "docs"
    copy_files(xwlb_files(300, 60), docs)
    engine = SearchEngine(tmp_path / "ix")
    engine.index([docs], jobs=1, batch_size=30)
    phrase = '"国务院"'
    before = [(h.id, h.score) for h in engine.search(phrase, limit=50).hits]
    removed = list((tmp_path / "ix").glob("gen-*/*.bigrams.*.npy"))
    assert len(removed) >= 6 and len(removed) % 3 == 0  # three arrays per segment
    for path in removed:
        path.unlink()
    engine.close()
    old = SearchEngine(tmp_path / "ix")
    assert [(h.id, h.score) for h in old.search(phrase, limit=50).hits] == before
    report = old.index([docs])
    assert report.added == report.updated == report.deleted == 0
    assert sorted(p.name for p in (tmp_path / "ix").glob("gen-*/*.bigrams.*.npy")) == sorted(
        p.name for p in removed)
    old.close()
    fresh = SearchEngine(tmp_path / "ix")
    assert [(h.id, h.score) for h in fresh.search(phrase, limit=50).hits] == before
    check_segments(fresh, random.Random(SEED))
    fresh.close()


@pytest.mark.parametrize("size", [0, 1, 5, (1 << 20) + 7])
def test_counting_sort_equals_argsort(size: int) -> None:
    """Sizes around the sort step, astral characters sharing the last group."""
    rng = np.random.default_rng(size)
    codes = rng.choice(np.array([0, 0x4E00, 0x4E8C, 0x9FA5, 0xFFFF, 0x20000, 0x2A6D6],
                                dtype=np.uint32), size=size)
    hist = np.bincount(np.minimum(codes, 0xFFFF), minlength=0x10000)
    arrays = text_index.char_index_arrays(codes, hist)
    assert arrays["by_char"].dtype == np.int32
    assert np.array_equal(arrays["by_char"], np.argsort(np.minimum(codes, 0xFFFF), kind="stable"))
    assert arrays["char_offsets"][-1] == size
    if size:
        codes[-1] = 0  # a segment's text ends with a separator
        hist = np.bincount(np.minimum(codes, 0xFFFF), minlength=0x10000)
        bigrams = text_index.bigram_index_arrays(codes, hist)
        index = substrings.BigramIndex(**text_index.pack_bigram_index(bigrams))
        assert_bigram_index(index, codes.astype(np.int64))
        for needle in ([0x20000], [0x4E00, 0x2A6D6], [0x9FA5, 0x4E8C, 0x4E00], [0xFFFF]):
            wanted = np.array(needle, dtype=np.uint32)
            got = np.sort(index.find(wanted))
            got = got[(got >= 0) & (got <= size - len(needle))]
            for k, c in enumerate(needle):  # clipped code points: the caller's check
                if c >= 0xFFFF:
                    got = got[codes[got + k] == c]
            linear = [i for i in range(size - len(needle) + 1)
                      if list(codes[i : i + len(needle)]) == needle] if size < 100 else None
            if linear is not None:
                assert got.tolist() == linear
            else:
                assert all((codes[got + k] == c).all() for k, c in enumerate(needle))



def mapped_kb(folder: Path, suffix: str) -> int:
    """Resident kB of this process's maps of files in *folder* ending in *suffix* (from
    smaps); other tests' indexes (a session's shared one) may be mapped too."""
    total, current = 0, False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            first = line.split(maxsplit=6)
            if "-" in first[0] and len(first) >= 5 and ":" in first[3]:  # a mapping's header
                name = first[5].strip() if len(first) == 6 else ""
                current = name.startswith(f"{folder}/") and name.endswith(suffix)
            elif current and line.startswith("Rss:"):
                total += int(line.split()[1])
    return total


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="needs Linux /proc")
def test_searches_hand_back_the_position_pages_they_read(tmp_path: Path) -> None:
    """A long-lived process does not keep every position group it ever read resident.

    The groups of common bigrams are megabytes; a memory map would keep each page a
    query touched in the process's RSS.  After many queries only a few boundary pages
    (the kernel maps up to 64 kB around a fault) may remain.
    """
    rng = random.Random(SEED)
    docs = tmp_path / "docs"
    copy_files(xwlb_files(0, 400), docs)
    engine = SearchEngine(tmp_path / "ix")
    engine.index([docs], jobs=1)
    texts = [t for reader in leaf_readers(engine) for t in column_texts(reader)]
    queries = needles(texts, rng, 150) + ["的", "中国", "发展", "新闻联播"]
    released = []
    original = substrings.BigramIndex.release
    try:
        for keep in (False, True):
            if keep:  # the same queries without the release: the pages stay mapped
                substrings.BigramIndex.release = lambda self, spans: None
            engine.close()
            engine = SearchEngine(tmp_path / "ix")
            for query in queries:
                engine.search(f'"{query}"', limit=5)
            released.append(mapped_kb(tmp_path / "ix", ".bigrams.stream.npy"))
    finally:
        substrings.BigramIndex.release = original
        engine.close()
    after_release, kept = released
    assert kept > 4 * 1024, kept  # the queries really read megabytes of positions
    # measured: 1.6 MB left (fault-around pages at group edges) against 6.4 MB kept
    assert after_release * 3 < kept, (after_release, kept)


def _segment(texts: list[str], packed: bool) -> substrings.SegmentText:
    """A SegmentText of *texts*: searched through the packed bigram index, or (the path
    of a segment without one) through its code points in memory."""
    arrays = substrings.text_arrays(texts)
    bigrams = substrings.BigramIndex(**text_index.pack_bigram_index(
        text_index.bigram_index_arrays(arrays["codes"].copy(), arrays["histogram"])))
    return substrings.SegmentText(
        arrays["starts"], arrays["title_ends"], arrays["lengths"], arrays["histogram"], 1.0,
        arrays["astral_at"], arrays["astral_codes"], bigrams=bigrams if packed else None,
        codes=None if packed else arrays["codes"])


def test_whole_numbers_and_astral_characters_through_the_packed_index() -> None:
    """The packed index holds no code points: numbers glued to digits or dots before or
    after, and characters above U+FFFE (which share one bigram key), are told apart
    through bigram groups and the astral list; both paths give the linear scan's answer."""
    texts = ["14万人\x1e4万人来了，共4万。", "标题\x1e𠀀𪚖𠀀，𪚖𠀀x1.4万和0.4万", "4万\x1e",
             "\x1e2021年与12021年、2021.5和20215", "𠀀\x1e\uffff𠀀\uffff"]
    packed, scanned = _segment(texts, True), _segment(texts, False)
    assert packed.codes is None and scanned.bigrams is None
    for needle in ("4万", "万", "2021", "021", "1", "𠀀", "𪚖𠀀", "𠀀，", "\uffff", "\uffff𠀀",
                   "x1", "人", "万人", "20215", ".4万"):
        for whole in (False, True):
            got = packed.find(needle, whole)
            want = scanned.find(needle, whole)
            assert got.ids.tolist() == want.ids.tolist(), (needle, whole)
            assert got.title.tolist() == want.title.tolist(), (needle, whole)
            assert got.body.tolist() == want.body.tolist(), (needle, whole)
            if not whole:
                assert packed.count(needle) == scanned.count(needle) == len(want), needle
            if not whole:
                assert {int(d): (int(t), int(b)) for d, t, b in zip(
                    got.ids, got.title, got.body, strict=True)} == oracle(texts, needle)
    assert packed.find("4万", True).ids.tolist() == [0, 2]  # not in 14万, 1.4万, 0.4万
    assert packed.find("2021", True).body.tolist() == [1]  # 2021年, not 12021, 2021.5, 20215


def test_small_and_vectorised_decoding_agree_on_real_text(monkeypatch) -> None:
    """Every group of a real segment's bigram index decodes to the same positions through
    the byte loop for small groups, the array steps (values of one, two and more LEB128 bytes), and
    the sort the index was built from; multi-group spans (single characters) too."""
    texts = [squeeze(path.read_text(encoding="utf-8")) for path in xwlb_files(0, 60)]
    arrays = substrings.text_arrays(texts)
    built = text_index.bigram_index_arrays(arrays["codes"].copy(), arrays["histogram"])
    index = substrings.BigramIndex(**text_index.pack_bigram_index(built))
    positions, starts = built["positions"], built["starts"]
    sizes = np.diff(index.offsets.astype(np.int64))
    assert (sizes <= substrings.SMALL_GROUP).sum() > 100  # both paths are exercised
    assert (sizes > substrings.SMALL_GROUP).sum() > 10
    lengths = np.diff(np.flatnonzero(index.stream < 0x80), prepend=-1)
    assert lengths.max() >= 3  # values of one, two and three or more bytes
    assert (lengths == 2).any()
    for small in (substrings.SMALL_GROUP, 0):  # 0: every group through the array steps
        monkeypatch.setattr(substrings, "SMALL_GROUP", small)
        for group in range(len(index.keys)):
            assert index.decode(group, group + 1).tolist() == \
                positions[starts[group] : starts[group + 1]].tolist()
    for lo, hi in ((0, len(index.keys)), (5, 400), (len(index.keys) - 3, len(index.keys))):
        assert index.decode(lo, hi).tolist() == positions[starts[lo] : starts[hi]].tolist()


@pytest.mark.parametrize("step", [1, 7, 2000])
def test_text_is_encoded_a_few_texts_at_a_time_exactly(step, monkeypatch) -> None:
    """text_arrays encodes the texts in steps (a large segment's whole text encoded at
    once was its build's peak): the code points, separators included, are those of the
    whole text joined and encoded at once, astral characters and empty texts too."""
    texts = [squeeze(path.read_text(encoding="utf-8")) for path in xwlb_files(0, 40)]
    texts[3] = "𠀀标题\x1e正文𪚖"  # above U+FFFF: the codes stay 32-bit
    texts[5] = ""
    monkeypatch.setattr(substrings, "TEXTS_PER_STEP", step)
    for some in (texts, [t for t in texts if t.isascii() or max(t) <= "\uffff"], []):
        joined = substrings.SEPARATOR.join(some) + substrings.SEPARATOR
        want = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        got = substrings.text_arrays(some)["codes"]
        assert got.dtype == (np.uint32 if int(want.max()) > 0xFFFF else np.uint16)
        assert got.tolist() == want.tolist()


def test_checked_bigrams_cover_the_needle_with_the_fewest_bytes() -> None:
    """A long needle's candidates are checked with bigrams covering every character; the
    chosen ones cost the fewest bytes of any cover (compared with every subset), and a
    real needle skips its commonest bigrams when those beside them are rare."""
    import itertools

    def covers(chain: tuple[int, ...], n: int) -> bool:
        return {c for k in chain for c in (k, k + 1)} >= set(range(n + 1))

    rng = random.Random(5)
    for _ in range(1500):
        sizes = [rng.randint(1, 1000) for _ in range(rng.randint(1, 8))]
        free = min(range(len(sizes)), key=sizes.__getitem__)
        chain = substrings.cheapest_cover(sizes, free)
        assert covers(tuple(chain), len(sizes))
        cost = sum(sizes[k] for k in chain if k != free)
        assert cost == min(sum(sizes[k] for k in c if k != free)
                           for r in range(1, len(sizes) + 1)
                           for c in itertools.combinations(range(len(sizes)), r)
                           if covers(c, len(sizes)))
    # 行推动高质量发展系列主题新闻发 at 500k: 发展 (6) and 新闻 (12) are not decoded
    sizes = [147, 31633, 3288, 17107, 19702, 13535, 67547, 321, 7757, 1410, 7996, 1446,
             109403, 3885]
    assert sorted(substrings.cheapest_cover(sizes, 0)) == [0, 2, 3, 5, 7, 9, 11, 13]
