"""The operator CLI: `python -m ops --help` lists the commands."""
