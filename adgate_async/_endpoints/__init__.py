"""One module per endpoint: its options (a TypedDict the session's calls take with
``Unpack``), their rules, the query and path, the URL (never holding the key) and the
decoder of its answer. The session holds one instance of each endpoint's URL builder."""
