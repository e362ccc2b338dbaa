"""Microsoft Graph v1.0 of the local cloud: the users, licences and groups slice this project needs.

``app`` builds the Graph origin (token check, routes, ``$batch``); ``users``, ``licenses`` and
``groups`` hold the routes of each resource; ``store`` the tenant's users and SKUs; ``odata`` the
query options and response shapes they share.
"""
