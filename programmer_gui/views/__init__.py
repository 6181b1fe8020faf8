"""The programmer's pages and widgets: layout only (decisions live in ``core``, wiring in
``controllers``)."""
