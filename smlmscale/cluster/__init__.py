"""Point clouds to clusters: tile sequences, sequenced and exact partitioned DBSCAN, properties."""
