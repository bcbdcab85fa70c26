"""FallWatch application layer: configuration, seam types, camera ingestion and the command line."""
