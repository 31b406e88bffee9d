"""The ``casstore`` command line: parses arguments, calls the casstore library, prints results."""
