"""Allow ``python -m salesnb``."""

from salesnb.cli import main

raise SystemExit(main())
