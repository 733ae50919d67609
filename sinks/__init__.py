"""Writers of the recommendation stores: MariaDB rows, Elasticsearch weighted tags, error events."""
