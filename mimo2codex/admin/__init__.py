"""The admin console: a JSON API at ``/admin/api`` and the pages at ``/admin/``, served by the gateway itself.

``server.create_app`` builds one :class:`~mimo2codex.admin.console.AdminConsole` (unless ``--no-admin``)
and always installs the browser guard; nothing here runs at import time. The modules, by what they do:

Wiring
    ``console``   the app factory's part: routes, the guard middleware, the lifespan (watcher)
    ``context``   :class:`AdminContext`, what every handler shares (gateway, store, live configuration)
    ``api``       the route table mounted at ``/admin/api``; ``spec`` declares a route and its schemas,
                  ``openapi`` describes the same table as the served OpenAPI document
    ``security``  the browser guard: Host (DNS rebinding), JSON-only bodies, Origin, admin token, CSP

Live configuration
    ``runtime``         settings rebuilt with the startup loader and swapped in, without a restart
    ``providers_edit``  ``GET|PUT generic-providers``: providers.json validated, backed up, written atomically
    ``carry_over``      the ``GENERIC_*`` provider carried into the first providers.json the admin writes
    ``toggles``         runtime toggles and the storage policy; ``settings_api`` the Node tool's settings routes
    ``watcher``         follows hand edits of providers.json and what other instances wrote to the store
    ``models``          custom models and aliases

Data
    ``overview`` (health, providers, setup snippets, the live feed route), ``stats`` (stats, mappings,
    dashboard), ``logs`` (keyset paging, filters, export), ``events`` (the live feed's hub),
    ``probe`` (one tiny request), ``codex`` (Codex enable / status / restore)

Pages
    ``pages`` renders ``templates/*.html`` and serves ``static/`` (hand-written JS/CSS, no build step);
    both ship in the wheel (``[tool.setuptools.package-data]`` in pyproject.toml).

The user's guide is ``docs/admin.md`` (``docs/admin.zh.md``).
"""
