"""Bias probes: perturb one side of each pair and measure whether the verdict moves.

- :mod:`judge.probes.base`: the :class:`Perturbation` plugin protocol and
  :func:`perturb_item` (one item, one side, deterministic given the seed);
- :mod:`judge.probes.builtin`: the built-in perturbations (bandwagon, authority,
  verdict injection, superficial reflection, verbosity padding, self-identification,
  refinement claim), each with its wording and source;
- :mod:`judge.probes.benchmark`: the ``probe`` benchmark, a wrapper whose items are
  another benchmark's items with one side perturbed, so a probe run is a normal run;
- :mod:`judge.probes.run`: ``judge probe``: the unperturbed run and one run per probe,
  and the probe design (which side each item targets) read back from run folders.

The figures are computed by :mod:`judge.analysis.probes`. Nothing is imported here.
"""
