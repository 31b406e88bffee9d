"""One module per command or command group; each defines its commands at module level.

``cli.py`` names the module of each command and finds the command in it as
``<name>_command`` (dashes as underscores), so a run imports only the module it needs.
"""
