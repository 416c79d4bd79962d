"""One module per source, each defining its load functions; `typicality.data.registry` names them."""
