"""Knowledge base: articles, SQLite store with revisions, importers."""
