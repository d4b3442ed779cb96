"""The one place the rest of searcher imports Whoosh from, and Whoosh's internals it drives.

searcher commits staged segments by driving ``SegmentWriter``'s commit steps one by one,
reads postings block by block and field lengths straight from the codec's columns, and
names its sidecar files so that Whoosh's own clean-up deletes them with their segment.
None of that is Whoosh's public API, so it lives here, together with the other adapter
modules this one imports: :mod:`~searcher.local.whoosh_version` (importing any of them
refuses a Whoosh version they were not tested on), :mod:`~searcher.local.whoosh_pickles`
(loading an index's pickles safely, the stored-fields column) and
:mod:`~searcher.local.whoosh_codec` (the ``W3`` codec's postings blocks and term table).
Those two patch Whoosh when imported; importing them here makes the patches active
whenever Whoosh is used, since every other module reaches Whoosh through this one.

Whoosh's public API (schemas, analyzers, opening an index) is re-exported from here, so
the rest of the package imports Whoosh from one place; ``tests/test_whoosh_adapter.py``
checks that no module but the whoosh_* adapter modules imports Whoosh's internal modules
or private names.
"""

from __future__ import annotations

import itertools
import struct
from array import array
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..deadline import check_time_limit
from . import whoosh_codec, whoosh_pickles  # noqa: F401 - their patches of Whoosh
from .whoosh_pickles import register_schema
from .whoosh_version import SUPPORTED, SUPPORTED_TEXT, check_version, installed_version

# isort: split
# Public API, re-exported so the package imports Whoosh from one place.
from whoosh import columns, fields, formats
from whoosh import index as _index
from whoosh.analysis import StopFilter, Token, Tokenizer

# Internals.  (whoosh.writing is imported where used: searches never need it.)
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield
from whoosh.filedb.filestore import FileStorage
from whoosh.reading import SegmentReader, TermNotFound
from whoosh.util.numeric import byte_to_length
from whoosh.util.times import datetime_to_long

__all__ = [
    "SUPPORTED", "SUPPORTED_TEXT", "StopFilter", "Token", "Tokenizer", "check_version",
    "columns", "datetime_to_long", "fields", "formats", "installed_version", "register_schema",
]

# -- opening and creating indexes --------------------------------------------------------


def open_index(folder: str) -> Any:
    """The Whoosh index in *folder* (``whoosh.index.open_dir``)."""
    return _index.open_dir(folder)


def index_exists(folder: str) -> bool:
    return _index.exists_in(folder)


def create_index(folder: str, schema: Any) -> Any:
    from .integrity import seal_toc

    ix = _index.create_in(folder, schema)
    seal_toc(folder, ix.latest_generation())
    return ix


def index_folder(ix: Any) -> str:
    """The folder a file-based Whoosh index lives in."""
    return ix.storage.folder


# -- segment files ------------------------------------------------------------------------


def segment_file_name(segment_id: str, suffix: str) -> str:
    """A file name Whoosh treats as part of segment *segment_id*.

    Whoosh's clean-up after a commit deletes every file matching its segment
    pattern (``<index>_<id>.<ext>``) whose segment is gone, so sidecar files
    named this way are deleted together with their segment after a merge.
    """
    return f"{segment_id}.{suffix}"


def is_segment_file(name: str, segment: Any) -> bool:
    """Whether the file *name* belongs to *segment* (its id, then a dot)."""
    return name.startswith(f"{segment.segment_id()}.")


def reader_segment_id(reader: Any) -> str:
    """The id of a leaf reader's segment (``MAIN_<random id>``)."""
    return reader.segment().segment_id()


def reader_folder(reader: Any) -> str | None:
    """The index folder of a leaf reader (compound segments wrap it in an overlay)."""
    storage = reader.storage()
    for _ in range(4):
        folder = getattr(storage, "folder", None)
        if folder is not None:
            return str(folder)
        storage = getattr(storage, "b", None)  # OverlayStorage(compound file, folder)
        if storage is None:
            return None
    return None


# -- writing segments ----------------------------------------------------------------------


def staging_writer(folder: str, schema: Any) -> tuple[Any, Any]:
    """A new index in *folder* and an unlocked writer for one non-compound segment.

    ``compound=False``: Whoosh opens the parts of a compound segment by copying
    them into memory (over 100 ms per search process at 20,000 articles);
    plain files are mmap'ed.
    """
    from whoosh.writing import SegmentWriter

    ix = FileStorage(folder).create_index(schema)
    return ix, SegmentWriter(ix, _lk=False, compound=False)


def discard_temp_files(writer: Any) -> None:
    """Delete the writer's temporary storage (its posting pool), once the segment is built."""
    writer._tempstorage.destroy()


def segment_reader(ix: Any, segment: Any) -> Any:
    """A reader of one segment of *ix* (committed or not)."""
    return SegmentReader(ix.storage, ix.schema, segment)


def index_segments(ix: Any) -> list[Any]:
    """The segments of *ix*'s latest commit (TOC)."""
    return list(ix._segments())


def commit_writer(ix: Any) -> Any:
    """A locked writer on *ix* for :func:`commit_segments` (``compound=False``, see above)."""
    from whoosh.writing import SegmentWriter

    return SegmentWriter(ix, compound=False)


#: Segments with at least this many documents are never merged by a commit.  Whoosh's own
#: policy (MERGE_SMALL) merges the smallest segments once, past the fourth, their running
#: total of documents is below fib(rank + 5): with a parallel build's segments of ~10,000
#: documents that stays false up to ~25 segments and then holds for half the index at once.
#: A 500,000-article build stalled in such a merge of ~260,000 articles (Whoosh's merge
#: re-pickles every posting: 4.9 GB of spill files after 20 minutes).  Merging everything is
#: ``searcher optimize``'s job; commits only tidy up the small segments nightly runs add.
LARGE_SEGMENT_DOCS = 2000


def merge_small_segments(writer: Any, segments: list[Any]) -> list[Any]:
    """Whoosh's MERGE_SMALL over the segments below LARGE_SEGMENT_DOCS only (all of them
    when none is larger: exactly MERGE_SMALL), without segments of deleted documents only;
    returns the segments kept."""
    from whoosh.writing import MERGE_SMALL

    # A segment whose documents are all deleted is dropped (its files go with it): it
    # would cost every query a round and every suggestion table its words until merged.
    # (One stays when every document is deleted: readers of an index need a segment.)
    segments = [s for s in segments if s.doc_count() > 0] or segments[:1]
    small = [s for s in segments if s.doc_count_all() < LARGE_SEGMENT_DOCS]
    if len(small) == len(segments):
        return MERGE_SMALL(writer, segments)
    kept = MERGE_SMALL(writer, small)
    if kept is small:  # nothing merged
        return segments
    kept_ids = {id(s) for s in kept}
    return [s for s in segments
            if s.doc_count_all() >= LARGE_SEGMENT_DOCS or id(s) in kept_ids]


def commit_segments(writer: Any, new_segments: list[Any],
                    on_merged: Callable[[Any, list[Any]], None]) -> None:
    """``writer.commit()``, with *new_segments* (finished elsewhere) added to the TOC.

    The documents added to *writer* itself and any merge Whoosh's policy makes
    become a segment first; *on_merged* is called on it and the segments merged
    into it (their files still exist) before the TOC names it.  The TOC swap is
    the atomic step.
    """
    before = list(writer.segments)
    segments = writer._merge_segments(merge_small_segments, False, True)
    if writer._added:
        kept = {s.segment_id() for s in segments}
        merged = writer._finalize_segment()
        on_merged(merged, [s for s in before if s.segment_id() not in kept])
        segments.append(merged)
    else:
        writer._close_segment()
    writer._commit_toc(segments + new_segments)
    from .integrity import seal_toc

    seal_toc(writer.storage.folder, writer.generation)
    writer._finish()


def start_document(writer: Any) -> tuple[Any, int]:
    """(per-document writer, number) for the next document of *writer*, started."""
    perdoc = writer.perdocwriter
    perdoc.start_doc(writer.docnum)
    return perdoc, writer.docnum


def document_added(writer: Any) -> None:
    """Account for one document written through :func:`start_document`."""
    writer._added = True
    writer.docnum += 1


def document_lengths(writer: Any, names: Iterable[str]) -> dict[str, list[int]]:
    """Each document's stored length of each field in *names* (closes the per-doc writer)."""
    writer.perdocwriter.close()
    reader = writer.per_document_reader()
    try:
        return {name: [reader.doc_field_length(d, name, 0) for d in range(writer.docnum)]
                for name in names}
    finally:
        reader.close()


def finish_segment(writer: Any) -> Any:
    """Close the segment's files and return Whoosh's segment object."""
    writer._close_segment()
    writer._assemble_segment()
    return writer.get_segment()

# -- reading --------------------------------------------------------------------------------


def term_postings(reader: Any, fieldname: str, term: str) -> tuple[Any, Any]:
    """Doc ids and weights of *term* in one segment, deleted documents included.

    Plain posting blocks (``whoosh_codec``) are read in one piece with numpy (ids int64,
    weights float32); a term inlined in its term-table row, or postings an older index
    pickled, through Whoosh's matcher (lists).  A term (or field) not in the segment gives
    two empty lists.
    """
    terms, tbytes = reader._terms, term.encode("utf-8")
    try:
        plain, info = whoosh_codec.postings_by_row(terms, fieldname, tbytes)
    except TermNotFound:
        return [], []
    if plain is not None:
        return plain
    return _matcher_postings(reader, fieldname, tbytes, info)


def postings_everywhere(leaves: Iterable[tuple[Any, int]], fieldname: str, term: str
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Global doc ids (int64, ascending) and weights (float32) of *term* in every segment
    of *leaves* (each a reader and its first global document number), deleted documents
    included: what :func:`term_postings` gives segment by segment, shifted and joined.

    The plain blocks of all segments are decoded as one list
    (:func:`whoosh_codec.decode_blocks`): decoded segment by segment, a term's dozen
    numpy calls were paid once per segment, most of a new query's postings time at
    500,000 articles (24 segments).  Inlined rows and older pickled lists go through
    Whoosh's matcher, segment by segment.
    """
    tbytes = term.encode("utf-8")
    blocks: list[whoosh_codec.Block] = []
    others: list[tuple[np.ndarray, np.ndarray]] = []  # inlined or pickled, ids global
    for reader, offset in leaves:
        check_time_limit()
        try:
            data, info = whoosh_codec.postings_bytes(reader._terms, fieldname, tbytes)
        except TermNotFound:
            continue
        if data is not None:
            whoosh_codec.gather_blocks(data, offset, blocks)
            continue
        listed, listed_weights = _matcher_postings(reader, fieldname, tbytes, info)
        if listed:
            others.append((np.asarray(listed, dtype=np.int64) + offset,
                           np.asarray(listed_weights, dtype=np.float32)))
    ids, weights = whoosh_codec.decode_blocks(blocks)
    if others:  # each segment's ids are a range of their own: a stable sort merges runs
        ids = np.concatenate([ids, *(o[0] for o in others)])
        weights = np.concatenate([weights, *(o[1] for o in others)])
        if len(others) > 1 or len(blocks):
            order = np.argsort(ids, kind="stable")
            ids, weights = ids[order], weights[order]
    return ids, weights


def _matcher_postings(reader: Any, fieldname: str, tbytes: bytes, info: Any
                      ) -> tuple[list[int], list[float]]:
    """Doc ids and weights of a term's row *info* through Whoosh's matcher (inlined rows
    and pickled lists)."""
    terms = reader._terms
    matcher = terms._codec.postings_reader(terms._postfile, info,
                                           reader.schema[fieldname].format,
                                           term=(fieldname, tbytes))
    ids: list[int] = []
    weights: list[float] = []
    if not hasattr(matcher, "_read_data"):  # an inlined term (a few postings in the terms)
        while matcher.is_active():
            ids.append(matcher.id())
            weights.append(matcher.weight())
            matcher.next()
        return ids, weights
    while matcher.is_active():
        # What W3LeafMatcher._read_ids / _read_weights give, without their Python generator
        # a posting (a common word's 50,000 postings at 100,000 articles cost 10 ms that way).
        if matcher._data is None:
            matcher._read_data()
        deltas, block_weights = matcher._data[0], matcher._data[1]
        ids.extend(deltas if matcher._byteids else itertools.accumulate(deltas))
        if block_weights is None or isinstance(block_weights, float):
            # Whoosh makes an array("f") of the one weight: float32, like every weight.
            single = array("f", [1.0 if block_weights is None else block_weights])[0]
            weights.extend([single] * matcher._blocklength)
        else:
            weights.extend(block_weights)
        matcher._next_block()
    return ids, weights


def length_bytes(reader: Any, fieldname: str) -> Any:
    """The column of one byte per document encoding *fieldname*'s length (None: no column).

    Decode with :data:`BYTE_TO_LENGTH`.
    """
    return reader._perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)


#: Field length of each length byte (Whoosh stores lengths in one lossy byte).
BYTE_TO_LENGTH: tuple[int, ...] = tuple(byte_to_length(i) for i in range(256))


def field_doc_frequencies(reader, fieldname: str):
    """(term, document frequency) of one field of a segment (for suggestions).

    Whoosh's own ``iter_field`` builds a term-info object per term (about a
    second per 10,000 articles); its terms file is a sequence of
    ``(key length, value length, key, value)`` records with the document
    frequency at a fixed place in the value, so one pass over the bytes reads
    it.  Anything unexpected falls back to ``iter_field``.
    """
    if fieldname not in reader.schema:
        return
    try:
        terms = reader._terms
        table = terms._tindex
        fnum = terms._fieldmap.get(fieldname)
        if fnum is None:
            return
        raw = table.dbfile.get(table.startofdata, table.endofdata - table.startofdata)
    except AttributeError:
        for term, info in reader.iter_field(fieldname):
            yield (term.decode("utf-8", "surrogatepass") if isinstance(term, bytes) else term,
                   info.doc_frequency())
        return
    lengths = struct.Struct("!ii").unpack_from
    pos, end = 0, len(raw)
    while pos < end:
        keylen, datalen = lengths(raw, pos)
        key = pos + 8
        if (raw[key] << 8) | raw[key + 1] == fnum:
            data = key + keylen
            yield (raw[key + 2 : data].decode("utf-8", "surrogatepass"),
                   int.from_bytes(raw[data + 5 : data + 9], "big"))  # "!BfI": flags, weight, df
        pos = key + keylen + datalen
