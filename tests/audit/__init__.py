"""Outside checks: a programmer written from docs/protocol.md alone (stdlib only) and clinical
cases computed by hand from domain.md, both run against ``pump-emulator serve``."""
