"""The example service the delivery pipeline ships; teams replace it with their own (see app/README.md)."""
