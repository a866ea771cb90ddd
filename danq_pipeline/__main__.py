"""`python -m danq_pipeline` is the `danq` command."""

from danq_pipeline.cli import main

raise SystemExit(main())
