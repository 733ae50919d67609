"""Wikitext and a per-wiki model bundle in, link recommendations out. No service I/O here."""
