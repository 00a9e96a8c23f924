"""Where models and their releases live: the model store (folder, bucket or OCI registry), the
release record format, and the row reader every client of a model shares."""
