"""Point clouds to clusters: tile sequences, sequenced and exact partitioned 3D DBSCAN, properties."""
