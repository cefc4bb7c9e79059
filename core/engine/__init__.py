"""The training engine: one loop (:func:`fit`) under every method's trainer.

A method writes a :class:`Task` (its batches, its own ``step``, its state, its validation and final file)
and calls ``fit(task, run_dir, resume=..., device=..., progress=..., max_steps=...)``; the engine does the
seeding, device, DDP under torchrun, checkpoint/resume, the averaged metric log, progress, time and
curves. Loss terms can be gathered in a :class:`LossTerms` (name -> (weight, term)), which logs each by name::

    class MyTask(Task):
        def setup(self, runtime): ...                       # data, networks, optimisers on runtime.device
        def next_batch(self, step, rng): ...
        def step(self, batch, step, rng):                   # the method's own update, as its paper writes it
            terms = LossTerms({"recon": (1.0, l1), "gan": (w, g)})
            terms.total().backward(); ...
            return terms.values()
        def state_dict(self): ...; def load_state_dict(self, state): ...
        def config_dict(self): return self.cfg.to_dict()

    fit(MyTask(cfg, data), "runs/my-run", resume=True)
"""

from core.engine.fit import Progress, RunOptions, checkpoint_step, fit, trainer_state
from core.engine.task import LossTerms, StateParts, Task

__all__ = [
    "LossTerms",
    "StateParts",
    "Task",
    "Progress",
    "RunOptions",
    "checkpoint_step",
    "fit",
    "trainer_state",
]
