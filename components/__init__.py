"""The platform's ComponentResources, their typed config and naming."""
