import sys

from platform_backup.cli import main

sys.exit(main())
