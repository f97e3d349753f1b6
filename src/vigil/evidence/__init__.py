"""Evidence sources: read-only walking of folders, archives and disk images; digests."""
