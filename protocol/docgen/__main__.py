"""``python -m protocol.docgen``: print docs/protocol.md."""

from protocol.docgen import main

raise SystemExit(main())
