"""Location identification: scene features, the global shortlist index, geometric verification,
drawings of the evidence, places and reference collections, and metadata leads (GPS, devices)."""
