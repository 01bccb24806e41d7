"""convgrad's documentation: ``python -m docs build`` writes the API reference and the guides as
static HTML into ``build/site`` (MkDocs with mkdocstrings, offline); see ``docs/__main__.py``."""
