"""Filters: decide which parts of a document are chrome (rule packs, titles) and remove them with a reason."""
