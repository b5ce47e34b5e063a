"""Commands that write the workspace or run the service (``api.cli`` dispatches).

Each module has ``add_arguments(parser)`` and ``run(args) -> int``, as the
library's commands in ``junkai_geo.commands``.
"""
