"""``judge view``: a local, read-only web viewer over run folders.

- :mod:`judge.view.filters`: the URL scheme of the item list (:class:`ItemFilter`), shared
  with the report, which links its counts to the viewer filtered to the items behind them;
- :mod:`judge.view.data`: the run folders queried in place with DuckDB (paging,
  filtering, searching and the pair verdict of each item all happen in SQL);
- :mod:`judge.view.prompts`: the judge prompt of a judgment, rendered again from its preset;
- :mod:`judge.view.pages`: the HTML pages (every model-written text escaped);
- :mod:`judge.view.server`: the HTTP server on 127.0.0.1.

Nothing is imported here: DuckDB is an optional dependency (the ``view`` extra), and the
report imports :mod:`judge.view.filters` alone.
"""
