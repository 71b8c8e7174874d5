"""Studies: experiments about momentum, each returning its results (tables, histories, claims checked) for the
views and the command line to show. They train through :mod:`inertia.population` and :func:`inertia.train.fit`
and never import a view; a result may draw its own figures (``plot_*`` methods, through :mod:`inertia.plots`).

- :mod:`~inertia.studies.comparison`: the seed lab over momenta and seeds, paired (``inertia compare``);
- :mod:`~inertia.studies.reproduce`: the seed notebook exactly, and its conclusions checked;
- :mod:`~inertia.studies.batch_study`: steps to a target against batch size on a network;
- :mod:`~inertia.studies.nqm` (with :mod:`~inertia.studies.nqm_kernel`): the noisy quadratic model, exactly;
- :mod:`~inertia.studies.theory`: heavy-ball momentum on quadratics; :mod:`~inertia.studies.stability`: the stable
  learning-rate edge on a network;
- :mod:`~inertia.studies.schedule_study`: momentum schedules against a tuned constant momentum;
- :mod:`~inertia.studies.valley`: the ball in the bumpy valley; :mod:`~inertia.studies.functions`: every optimizer
  on the classic 2-D test functions from many starts; :mod:`~inertia.studies.landscape`: the loss surface a run
  travels, and how faithful its picture is (:mod:`~inertia.studies.run_landscape`: a saved comparison's;
  :mod:`~inertia.studies.plane`: the plane's checks);
  :mod:`~inertia.studies.velocity`: seed 003's momentum by hand against torch.optim.SGD.
"""
