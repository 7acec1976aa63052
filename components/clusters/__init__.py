"""One module per cloud; each returns the same `Cluster` contract."""
