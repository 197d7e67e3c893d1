"""Ways to *see* a finished run: the HTML report and the terminal inspector.

* :mod:`corpusclean.views.report` gathers a run's tables with polars and writes one self-contained
  HTML page (``corpusclean report OUT``): run summary, the outlet × outlet reuse heatmap, the largest
  clusters, removals by rule and by outlet, errors by reason, and documents with their removed spans
  struck through. Everything it shows is capped so a 100k-document run stays small and fast; the page
  says what was capped.
* :mod:`corpusclean.views.inspect` prints the same views for one document, cluster or outlet with rich
  (``corpusclean inspect OUT --doc ID | --cluster ID | --outlet NAME``).
* :mod:`corpusclean.views.commands` adds the two commands to the typer app.
"""
