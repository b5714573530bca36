"""Ground floor: the vocabulary every stage shares (documents, resources, results, scan errors)."""
