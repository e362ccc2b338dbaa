"""Pure domain code, no I/O to services: the field's terms (``terms``), privilege names
(``privileges``), role files (``roles``) and solution packages (``solution_package``)."""
