"""How we talk to the services: Entra sign-in (azure-identity), resilient HTTPS (httpx + tenacity), and the
Dataverse and Microsoft Graph clients.  No Pulumi imports here; see docs/architecture.md."""
