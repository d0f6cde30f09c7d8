"""A graph-analysis program for the report benchmark (bench/README.md,
"The advice's second look at the capture"): networkx computes betweenness
from 150 sources, clustering, components, every pair's distance up to 2
and a spanning tree of a random 4,000-node graph, about 11 M events under
`memscope run`.

    python bench/real_networkx.py       # networkx from requirements/bench.txt
"""
import networkx as nx

g = nx.gnm_random_graph(4000, 20000, seed=1)
bc = nx.betweenness_centrality(g, k=150, seed=1)
cl = nx.clustering(g)
cc = list(nx.connected_components(g))
sp = dict(nx.all_pairs_shortest_path_length(g, cutoff=2))
mst = nx.minimum_spanning_tree(g)
print(len(bc), len(cl), len(cc), sum(len(v) for v in sp.values()), mst.number_of_edges())
