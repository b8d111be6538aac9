"""Library knowledge as data. `derived` reads what the derive scripts found by calling torch and NumPy."""
