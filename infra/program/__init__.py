"""What gets provisioned: the stack's config (``config``), the checks before the first resource
(``prepare``, ``license_seats``), the Entra side (``identity``), the Sales side (``sales``) and the
``connectionSetup`` output (``connection_setup``).  ``infra/__main__.py`` runs them in that order."""
