"""What models read: the on-disk feature store, normalisation, windows of songs, prepared data."""
