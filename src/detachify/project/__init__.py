"""The project around a file: where its modules are, what they export, who calls whom."""
