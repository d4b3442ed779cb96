"""Where an index's bytes go: MB per kind of file, and per field for Whoosh's terms and postings.

    python3 bench/index_size.py INDEX_DIR [INDEX_DIR ...] [--articles DIR]

Each index directory's current generation is measured: files are grouped by kind (the part
of the name after the segment id, so ``MAIN_<id>.bigrams.stream.npy`` counts as
``bigrams.stream.npy`` over all segments), and the terms (``.trm``) and postings (``.pst``)
are split by field from the terms table itself (a term's row and its postings' extent; a
term with one posting keeps it inline in its row).  With ``--articles`` the total is also
given as a multiple of the articles' bytes.  Several directories print side by side.
"""

from __future__ import annotations

import argparse
import os
import re
import struct
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SEGMENT_FILE = re.compile(r"^(?:_?MAIN_[0-9a-z]+)\.(.+)$")
TERM_ROW = struct.Struct("!ii")
#: W3TermInfo's fixed part is "!BfIBBfII" (23 bytes); then an extent (offset, length) or,
#: when the flags byte is set, the pickled inlined postings.
TERM_INFO_SIZE = 23


def generation(root: Path) -> Path:
    from searcher.local.storage import IndexDir

    gen = IndexDir(root).current()
    if gen is None:
        raise SystemExit(f"{root}: no index")
    return gen.path


def by_kind(folder: Path) -> Counter[str]:
    sizes: Counter[str] = Counter()
    for entry in os.scandir(folder):
        if not entry.is_file():
            continue
        match = SEGMENT_FILE.match(entry.name)
        kind = match.group(1) if match else entry.name
        if kind.endswith(".toc"):
            kind = "toc"
        sizes[kind] += entry.stat().st_size
    return sizes


def by_field(folder: Path) -> Counter[tuple[str, str]]:
    """(field, "terms" | "postings" | "inlined terms" | "postings count") → bytes (count)."""
    from searcher.local.whoosh_adapter import open_index

    out: Counter[tuple[str, str]] = Counter()
    ix = open_index(str(folder))
    try:
        with ix.reader() as reader:
            leaves = [leaf for leaf, _ in reader.leaf_readers()]
            for leaf in leaves:
                terms = leaf._terms
                table = terms._tindex
                names = {number: name for name, number in terms._fieldmap.items()}
                raw = table.dbfile.get(table.startofdata, table.endofdata - table.startofdata)
                pos, end = 0, len(raw)
                while pos < end:
                    keylen, datalen = TERM_ROW.unpack_from(raw, pos)
                    key = pos + TERM_ROW.size
                    field = names[(raw[key] << 8) | raw[key + 1]]
                    data = key + keylen
                    out[field, "terms"] += TERM_ROW.size + keylen + datalen
                    out[field, "postings count"] += int.from_bytes(raw[data + 5:data + 9], "big")
                    if raw[data]:  # inlined
                        out[field, "inlined terms"] += 1
                    else:
                        at = data + TERM_INFO_SIZE + 8
                        out[field, "postings"] += int.from_bytes(raw[at:at + 4], "big")
                    pos = data + datalen
    finally:
        ix.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("indexes", nargs="+", type=Path)
    ap.add_argument("--articles", type=Path, help="the articles' folder (for the ratio)")
    args = ap.parse_args()
    folders = [generation(root) for root in args.indexes]
    kinds = [by_kind(f) for f in folders]
    fields = [by_field(f) for f in folders]
    names = [str(root) for root in args.indexes]
    mb = lambda n: f"{n / 1e6:.2f}"  # noqa: E731
    print("| file kind | " + " | ".join(names) + " |")
    print("| --- |" + " --- |" * len(names))
    for kind in sorted(set().union(*kinds), key=lambda k: -max(c[k] for c in kinds)):
        print(f"| {kind} | " + " | ".join(mb(c[kind]) for c in kinds) + " |")
    totals = [sum(c.values()) for c in kinds]
    line = "| **total** | " + " | ".join(f"**{mb(t)}**" for t in totals) + " |"
    if args.articles:
        size = sum(e.stat().st_size for e in args.articles.rglob("*") if e.is_file())
        line = "| **total** | " + " | ".join(f"**{mb(t)} ({t / size:.2f}×)**"
                                             for t in totals) + " |"
        print(line)
        print(f"\narticles: {mb(size)} MB")
    else:
        print(line)
    print("\n| field: terms / postings MB (postings, inlined terms) | " + " | ".join(names)
          + " |")
    print("| --- |" + " --- |" * len(names))
    for field in sorted({f for c in fields for f, _ in c},
                        key=lambda f: -max(c[f, "terms"] + c[f, "postings"] for c in fields)):
        print(f"| {field} | " + " | ".join(
            f"{mb(c[field, 'terms'])} / {mb(c[field, 'postings'])} "
            f"({c[field, 'postings count']:,}, {c[field, 'inlined terms']:,})" for c in fields)
            + " |")


if __name__ == "__main__":
    main()
