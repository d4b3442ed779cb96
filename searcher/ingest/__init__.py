"""Files to documents: finding sources, decoding bytes, front matter, dates, HTML to text."""

#: Version of the way files become documents: an index built by another version is rebuilt
#: (it is part of the analysis fingerprint), so no article keeps text read the old way.
#: 2: Markdown read as CommonMark, TOML and JSON front matter, drafts.
READER_VERSION = 2
