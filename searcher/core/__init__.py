"""The shared core: the rules and plans both back ends execute, owned by neither.

``rules`` (ranking weights, query words, verbatim and proximity rules), ``plan`` (questions
and relaxing), ``request`` (filters, sorts, dates, facet names).  The local Whoosh index
(:mod:`searcher.local`) and the OpenSearch cluster (:mod:`searcher.opensearch`) import from
here, never from each other; nothing here imports either of them or Whoosh.
"""
