"""Publishing: preflight, the package index, twine uploads, the journal, the GitHub release."""
