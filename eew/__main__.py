"""``python -m eew`` runs the command line."""

from eew.cli import main

raise SystemExit(main())
