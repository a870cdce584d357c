from tests.ingest_support import ingest_features_dir, ingest_pool, ingest_settings  # noqa: F401
