"""The OpenSearch back end: the same index, queries and nightly job on a cluster.

Analysis stays in Python (documents are sent pre-analysed, see :mod:`.mapping`);
queries are translated from the same syntax tree (:mod:`.dsl`); the nightly
job syncs incrementally and swaps full rebuilds in atomically (:mod:`.sync`).
Needs ``pip install 'searcher[opensearch]'`` (opensearch-py).
"""

from ..config import is_cluster_url as is_cluster_location  # one test for both names
from .backend import OpenSearchBackend
from .client import ClusterError

__all__ = ["ClusterError", "OpenSearchBackend", "is_cluster_location"]
