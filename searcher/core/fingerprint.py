"""The analysis fingerprint: what decides the contents of an index, for both back ends.

An index records the fingerprint it was built with (``searcher.json`` of a local
generation, the ``_meta`` of a cluster index); a different one means ``searcher index
--full``.  :func:`dictionary_key` is the part that decides the frozen query dictionary.
"""

from __future__ import annotations

import hashlib
import json
import sys
import unicodedata
from typing import Any

from ..analysis.tokens import STOP_WORDS, file_digest
from ..ingest import READER_VERSION

#: Bump when analysis or the schema change in a way that needs a rebuild.
SCHEMA_VERSION = 9


def whoosh_version() -> str:
    """The Whoosh version local segments are written for: the imported module's
    (``whoosh.__version__``, what :mod:`searcher.local.whoosh_version` checks) once it is
    imported, else the installed distribution's, so a cluster location records the same
    value without importing Whoosh."""
    module = sys.modules.get("whoosh")
    if module is not None and hasattr(module, "__version__"):
        return ".".join(str(part) for part in module.__version__)
    return package_version("whoosh-reloaded")


#: What decides the terms, stored dates or pinyin rows an index holds for the same files,
#: in the order a change is reported.  Each is recorded in the index (``info.json``); a
#: change makes searches warn and ``searcher index`` rebuild in full.
COMPONENTS: dict[str, str] = {
    "schema": "schema version",
    "whoosh": "whoosh-reloaded",  # the segment format searcher writes itself
    "jieba": "jieba",  # its dictionary and HMM decide the words
    "opencc": "OpenCC",  # traditional → simplified folding
    "unicode": "Unicode data",  # NFKC, lower case and character classes of folding
    "stopwords": "stop-word list",  # content hash: stop words are not indexed
    "pypinyin": "pypinyin",  # the pinyin rows written at index time
    "userdict": "user dictionary",  # content hash
    "timezone": "time zone",  # the stored instant of dates written without a zone
    "reader": "article reader",  # how files become text (ingest.documents.READER_VERSION)
    "drafts": "drafts setting",  # whether drafts are indexed
}

#: Settings that change what is indexed, and so are in the fingerprint (see COMPONENTS).
ANALYSIS_SETTINGS = ("timezone", "userdict", "drafts")
#: Settings that leave the index as it is, and why (tests check every setting is in one
#: of the two lists, so a new setting must be classified).
NON_ANALYSIS_SETTINGS: dict[str, str] = {
    "index_dir": "where the index lives",
    "synonyms": "applied at query time",
    "pinyin": "query time only: the pinyin table is written whatever the setting",
    "max_bytes": "decides which files are read, not their terms: files skipped as too large "
                 "are not in the index, so every run tries them again and a raised limit "
                 "indexes them incrementally; a lowered one keeps what was already indexed",
    "follow_links": "decides which files are found, not their terms: the next incremental "
                    "run adds the files newly found and deletes those no longer found",
    "cache_bytes": "memory of search caches",
    "search_timeout": "how long a search may run",
    "public": "what the web server shows of the source paths",
    "parse_seconds": "decides which files are read, not their terms: a file over the bound "
                     "is reported and not indexed, and tried again by every run",
    "parse_memory": "decides which files are read, not their terms (as parse_seconds)",
    "extra": "free-form settings of applications, never read by the indexer",
}

_versions: dict[str, str] = {}


def package_version(name: str) -> str:
    """Installed version of distribution *name*, from package metadata (once per process).

    Importing jieba or pypinyin to ask costs 0.2 s; the metadata costs ~1 ms.
    """
    found = _versions.get(name)
    if found is None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version(name)
        except PackageNotFoundError:  # pragma: no cover - vendored copies
            found = "unknown"
        _versions[name] = found
    return found


_stop_digest: tuple[frozenset[str], str] | None = None


def stop_words_digest(words: frozenset[str] | None = None) -> str:
    """Short content hash of the stop-word list (default: the one the analyzers use).

    Remembered for the last list (0.6 ms to compute; engines ask on every reopen).
    """
    global _stop_digest
    words = STOP_WORDS if words is None else words
    if _stop_digest is not None and _stop_digest[0] is words:
        return _stop_digest[1]
    text = "\n".join(sorted(words))
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
    _stop_digest = (words, digest)
    return digest


def analysis_fingerprint(settings: Any) -> dict[str, Any]:
    """What determines the contents of an index built with *settings* (see COMPONENTS).

    A mismatch with the fingerprint an index records means ``searcher index --full``
    (which ``searcher index`` does by itself).
    """
    return {
        "schema": SCHEMA_VERSION,
        "whoosh": whoosh_version(),
        "jieba": package_version("jieba"),
        "opencc": package_version("opencc"),
        "unicode": unicodedata.unidata_version,
        "stopwords": stop_words_digest(),
        "pypinyin": package_version("pypinyin"),
        "userdict": file_digest(settings.userdict),
        "timezone": str(settings.timezone),
        "reader": READER_VERSION,
        "drafts": bool(settings.drafts),
    }


def fingerprint_text(fp: dict[str, Any]) -> str:
    return json.dumps(fp, sort_keys=True, ensure_ascii=False)


def dictionary_key(fp: dict[str, Any]) -> str:
    """The part of fingerprint *fp* that decides the frozen query dictionary (jieba's words).

    Frozen dictionaries are cached per machine under this key (8 MB each), so
    it leaves out what does not change them (time zone, stop words, ...).
    """
    return fingerprint_text({key: fp.get(key) for key in ("jieba", "userdict")})


#: What each schema version changed, for the message that says why an index is rebuilt.
FORMAT_CHANGES = {
    3: "document ids now include the source folder, so files with the same relative path "
       "in two source folders are both kept",
    4: "Latin tokens joined by dots are also indexed by their parts (application.yml → yml), "
       "so identifiers are found by their own names",
    5: "the folded text for exact phrases is kept once, inside a compact bigram index "
       "(no second column, no code-point array): the index is a third smaller",
    7: "posting blocks are plain arrays instead of Python pickles (reading them runs no "
       "code, and a word's first read is faster)",
    8: "stored fields are JSON instead of Python pickles",
    9: "the table of contents and the terms tables' field numbers are JSON instead of "
       "Python pickles: an index folder holds no pickle",
}


def describe_change(built: Any, current: dict[str, Any]) -> str:
    """Which components differ between the fingerprint an index records and *current*.

    For messages: ``time zone Asia/Shanghai → UTC``.  An index that records an
    older kind of fingerprint (before a component was tracked) or none is said so.
    """
    if not isinstance(built, dict):
        return "the index records no analysis fingerprint"
    changes = []
    old_schema, new_schema = built.get("schema"), current.get("schema")
    if old_schema != new_schema:
        whys = ([FORMAT_CHANGES[v] for v in range(old_schema + 1, new_schema + 1)
                 if v in FORMAT_CHANGES]
                if isinstance(old_schema, int) and isinstance(new_schema, int) else [])
        changes.append(f"schema version {old_schema} → {new_schema}"
                       + (f": {'; '.join(whys)}" if whys else ""))
    untracked = [label for key, label in COMPONENTS.items() if key not in built]
    if untracked:
        return "; ".join(changes + ["the index records an older fingerprint, without "
                                    + ", ".join(untracked)])
    changes += [f"{label} {_shown(key, built[key])} → {_shown(key, current.get(key))}"
                for key, label in COMPONENTS.items()
                if key != "schema" and built[key] != current.get(key)]
    extra = sorted(set(built) - set(COMPONENTS))
    if extra:
        changes.append(f"fingerprint entries {', '.join(extra)} no longer used")
    return "; ".join(changes) or "no difference"


def _shown(key: str, value: Any) -> str:
    if key == "userdict" and not value:
        return "none"
    return str(value)
