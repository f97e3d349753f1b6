"""Evidence ingest: walk sources, hash, extract metadata, run analyzers, record everything."""
