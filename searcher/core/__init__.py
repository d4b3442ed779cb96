"""The shared core: the rules and plans both back ends execute, owned by neither.

* ``rules``: ranking weights (read as ``rules.NAME`` when ranking) and the word rules:
  query words, verbatim runs, proximity, quantities, question words;
* ``plan``: is the query a question, may it be relaxed, and the search flow
  (:func:`~searcher.core.plan.run_search`) each back end's search runs;
* ``request``: the checked request (:class:`~searcher.core.request.SearchRequest`),
  filters, sorts, date bounds, facet names;
* ``contract``: the :class:`~searcher.core.contract.Backend` protocol both back ends declare;
* ``hits``: hits, document views and stored dates built the same way by both;
* ``changes``: change planning for the nightly job, ``check``, jieba loading;
* ``fingerprint``: what decides an index's contents, and the query-dictionary key;
* ``suggestions``, ``similarity``: suggestion keys, near-duplicate shingles;
* ``workers``, ``limits``: worker processes with per-file time and memory bounds.

The local Whoosh index (:mod:`searcher.local`) and the OpenSearch cluster
(:mod:`searcher.opensearch`) import from here, never from each other; nothing here imports
either of them or Whoosh (``tests/test_layers.py``).
"""
