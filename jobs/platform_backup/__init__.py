"""Backups of the platform's data: PostgreSQL dumps, ElastiCache snapshots and Kubernetes objects to S3.

One CLI (``python -m platform_backup``); see jobs/README.md for its commands, environment and S3 layout.
"""
