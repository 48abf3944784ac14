"""Analysis of judge runs: pure functions over a tidy frame, plus the report writer.

- :mod:`judge.analysis.frame`: runs -> one row per judgment (:func:`load_frame`), and
  the two orders of a pair combined under a reconcile policy (:func:`pair_frame`);
- :mod:`judge.analysis.agreement`: accuracy with/without ties, Cohen's kappa (plain,
  linear), Krippendorff's alpha, the leave-one-out human baseline, annotator kappas,
  judge vs judge (paired bootstrap, McNemar);
- :mod:`judge.analysis.bias`: position consistency, flip and first-position rates (by
  length and quality gap, per policy), length preference beside the humans', the
  logistic regression of disagreement on length;
- :mod:`judge.analysis.leaderboard`: the evaluator leaderboard (agreement beside the
  biases and costs; above both modules it combines);
- :mod:`judge.analysis.single`: correlations with human scores (item, prompt, system)
  and leniency;
- :mod:`judge.analysis.ranking`: win rates and Bradley-Terry strengths of the compared
  models;
- :mod:`judge.analysis.probes`: bias probes, the shift towards a perturbed response
  against the unperturbed run (paired bootstrap, exact sign test);
- :mod:`judge.analysis.calibration`: ECE, Brier score and reliability diagram of
  probability verdicts, per run and level;
- :mod:`judge.analysis.consistency`: self-consistency and verdict entropy across samples;
- :mod:`judge.analysis.summary`: the headline figures ``judge run`` prints;
- :mod:`judge.analysis.report`: Markdown and self-contained HTML with plots;
- :mod:`judge.analysis.synthetic`: frames with known biases for tests and benchmarks.

Nothing is imported here, so ``import judge.analysis`` stays cheap; import the module
you need. See ``docs/analysis.md`` for the conventions.
"""
