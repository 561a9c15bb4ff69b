"""Assembling a release: audit, retag, aliases, checksums, the artifact contract."""
