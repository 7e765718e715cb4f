"""The Attribution panel: every training point's influence by every method, side by side with exact
leave-one-out — the panel itself (:mod:`.panel`), its controls (:mod:`.controls`), its jobs (:mod:`.jobs`), its
plots (:mod:`.plots`), its table (:mod:`.table_model`) and the small widget factories they share
(:mod:`.widgets`)."""
