"""The data layer: from files, workbooks and databases to a validated :class:`SalesData`.

Modules, in the order data flows through them:

* :mod:`~salesnb.data.settings` — the funnel settings (``funnel.yml``);
* :mod:`~salesnb.data.readers` — CSV, Parquet and workbook readers (one per format);
* :mod:`~salesnb.data.mapping_spec`, :mod:`~salesnb.data.mapping_apply` — column
  mappings for CRM exports: reading a mapping, applying it;
* :mod:`~salesnb.data.sql` — databases through SQLAlchemy;
* :mod:`~salesnb.data.validation` — coercion and the rules of the canonical layout;
* :mod:`~salesnb.data.dataset` — :class:`~salesnb.data.dataset.SalesData` and its
  snapshots as known at a moment;
* :mod:`~salesnb.data.loading` — :func:`~salesnb.load`: folder, workbook, URL or mapping;
* :mod:`~salesnb.data.sample` — the seeded synthetic dataset generator;
* :mod:`~salesnb.data.bundled` — the datasets and notebooks shipped in the package.

It imports only the base modules (``exceptions``, ``periods``, ``_options``...), never
the metrics, presentation or report layers.
"""
