"""How we talk to the services: Entra sign-in (azure-identity), resilient HTTPS (httpx + tenacity), and the
Dataverse, Microsoft Graph and Power Platform admin clients.  No Pulumi imports here; see docs/architecture.md.

* :mod:`.endpoints` -- where the services live (the non-secret ``connection`` input);
* :mod:`.credentials` -- who we are (settings, credential kinds, token sharing);
* :mod:`.http` and :mod:`.http_policy` -- retries, throttling, 401 refresh, concurrency; :mod:`.errors`
  and :mod:`.redact` -- error classes and secret scrubbing; :mod:`.odata` -- ids, literals, ``$batch``;
* :mod:`.service` -- what the clients share; :mod:`.dataverse` (a package: DTOs, transport, topics,
  the async-operation lifecycle, the ``DataverseApi`` Protocol), :mod:`.graph`, :mod:`.powerplatform`;
  :mod:`.shared` -- the per-process client cache.
"""
