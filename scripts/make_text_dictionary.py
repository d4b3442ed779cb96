#!/usr/bin/env python3
"""Write searcher/local/text.zdict: the preset dictionary new indexes deflate display text with.

Each document's text is compressed alone (a snippet must not decompress its neighbours),
and deflate without a dictionary starts every document from nothing.  A preset dictionary
of the words Chinese text uses most lets even the first sentence refer back to it.  The
words are jieba's own dictionary's (general language, not any corpus): the multi-character
words of its dict.txt by frequency, most frequent last (nearest, so cheapest to refer to),
up to deflate's 32 KiB window.  An index keeps a copy of the dictionary it was written
with (in its schema), so replacing this file never changes how an existing index reads.

    python3 scripts/make_text_dictionary.py
"""

from __future__ import annotations

from pathlib import Path

import jieba

OUT = Path(__file__).resolve().parent.parent / "searcher" / "local" / "text.zdict"
WINDOW = 32768


def dictionary() -> bytes:
    with jieba.get_module_res(jieba.DEFAULT_DICT_NAME) as handle:
        lines = handle.read().decode("utf-8").splitlines()
    rows = []
    for line in lines:
        word, freq = line.split(" ", 2)[:2]
        if len(word) > 1:
            rows.append((-int(freq), word))
    rows.sort()
    words, size = [], 0
    for _freq, word in rows:
        data = word.encode("utf-8")
        if size + len(data) > WINDOW:
            break
        words.append(data)
        size += len(data)
    return b"".join(reversed(words))


if __name__ == "__main__":
    OUT.write_bytes(dictionary())
    print(f"{OUT}: {OUT.stat().st_size} bytes")
