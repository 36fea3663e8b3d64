"""The account bootstrap's components: the state backend and GitHub Actions' identity."""
