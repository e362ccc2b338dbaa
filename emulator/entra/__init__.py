"""Entra ID as the emulator serves it: OpenID discovery, keys, the token endpoint, issued tokens.

``endpoints`` routes the v2.0 endpoints of one tenant, ``tokens`` issues and checks access tokens
(claims as in Microsoft's "Access token claims reference"), ``keys`` holds the signing keys and
``oidc`` the test issuers whose tokens federated credentials trust.
"""
