"""`python -m platform_backup <command>`: every setting from the environment, credentials never from arguments.

Exit codes: 0 success, 1 a failed backup, check or restore (including an OSError: a missing binary, a
full disk, a port in use), 2 a missing or malformed setting. Expected failures print one line
(`platform-backup: error: ...`) and no traceback.
"""

import argparse
import logging
import sys
from collections.abc import Sequence

import psycopg
from botocore.exceptions import BotoCoreError, ClientError

from platform_backup import elasticache, exporter, kubeconfig, postgres, verify
from platform_backup.errors import BackupError, ConfigError
from platform_backup.settings import env_int, utc_now
from platform_backup.store import Store, aws_client

log = logging.getLogger("platform_backup")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="platform-backup", description=__doc__.splitlines()[0] if __doc__ else None)
    commands = root.add_subparsers(dest="command", required=True)

    backup = commands.add_parser("backup", help="back up one kind of data to the backup bucket")
    backup.add_argument("kind", choices=["postgres", "redis", "config"])
    backup.add_argument(
        "--weekly",
        action="store_true",
        help="postgres: also write the weekly/ copy (the backup-postgres-weekly CronJob; nothing else writes it)",
    )

    commands.add_parser("verify", help="check the newest backup of each kind; write verify/status.json")
    commands.add_parser("serve-metrics", help="serve the backup gauges on METRICS_PORT (/metrics, /healthz)")

    restore = commands.add_parser("restore", help="restore a PostgreSQL dump into a named database")
    restore.add_argument("kind", choices=["postgres"])
    restore.add_argument("--database", required=True, help="the database whose backup to restore")
    restore.add_argument("--into", required=True, help="the database to restore into")
    restore.add_argument("--backup", help="the dump's key (default: the newest dump of --database)")
    restore.add_argument(
        "--replace",
        action="store_true",
        help="replace --into if it has tables (dropped only once the restore into a scratch database succeeded)",
    )
    restore.add_argument("--report-json", help="also write the table report to this file")

    fingerprint = commands.add_parser("fingerprint", help="row count and md5 of every table of a live database")
    fingerprint.add_argument("kind", choices=["postgres"])
    fingerprint.add_argument("--database", required=True)
    fingerprint.add_argument("--json", help="also write the report to this file")
    return root


def run(args: argparse.Namespace) -> int:
    if args.command == "backup" and args.kind == "postgres":
        postgres.backup(Store.from_env(writes=True), weekly=args.weekly)
    elif args.command == "backup" and args.kind == "redis":
        elasticache.backup(Store.from_env(writes=True), aws_client("elasticache"))
    elif args.command == "backup":
        kubeconfig.backup(Store.from_env(writes=True), kubeconfig.KubernetesApi.from_env())
    elif args.command == "verify":
        return _verify()
    elif args.command == "serve-metrics":
        _serve_metrics()
    elif args.command == "restore":
        store = Store.from_env(writes=False)
        request = postgres.RestoreRequest(args.database, args.into, args.backup, args.replace)
        report = postgres.restore(store, request)
        postgres.print_fingerprint(report)
        if args.report_json:
            postgres.write_json(args.report_json, report)
    elif args.command == "fingerprint":
        report = postgres.fingerprint(args.database)
        postgres.print_fingerprint(report)
        if args.json:
            postgres.write_json(args.json, report)
    return 0


def _verify() -> int:
    store = Store.from_env(writes=True)
    kinds = verify.verify_kinds()
    client = aws_client("elasticache") if "redis" in kinds else None
    now = utc_now()
    results = verify.verify(store, client, now)
    verify.print_report(results, now)
    summary = verify.failure_summary(results)
    if summary:
        raise BackupError(summary)
    return 0


def _serve_metrics() -> None:
    store = Store.from_env(writes=False)
    port = env_int("METRICS_PORT", exporter.DEFAULT_PORT)
    server = exporter.make_server(exporter.build_registry(lambda: exporter.read_bucket(store)), port)
    log.info("serving metrics on :%d/metrics for s3://%s", port, store.bucket)
    server.serve_forever()


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)
    args = parser().parse_args(argv)
    try:
        return run(args)
    except ConfigError as error:
        print(f"platform-backup: error: {error}", file=sys.stderr)
        return 2
    except BackupError as error:
        print(f"platform-backup: error: {error}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError) as error:
        print(f"platform-backup: error: AWS: {error}", file=sys.stderr)
        return 1
    except psycopg.Error as error:
        message = str(error).strip().replace("\n", " ")
        print(f"platform-backup: error: PostgreSQL: {message}", file=sys.stderr)
        return 1
    except OSError as error:  # a missing pg_dump or pg_restore, a full disk, a port in use
        print(f"platform-backup: error: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
