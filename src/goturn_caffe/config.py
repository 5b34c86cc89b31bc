"""The authors' defaults, in one place.

Every value comes from the authors' release (see ``shared/REFERENCE.md``):
``train.cpp``'s constants, ``nets/solver.prototxt`` and ``BoundingBox::Shift``.
The network generator, the data layer, training, the ablations and the CLIs
read their defaults from :data:`AUTHORS`; a user's change is an argument, never
an edit here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AuthorsDefaults:
    # Training schedule.  max_iter is the 500,000 batches the authors' loop
    # really ran (their solver file's 450,000 was ignored by that loop).
    seed: int = 800                  # solver random_seed and the data layer's seed
    max_iter: int = 500_000
    batch_size: int = 50             # kBatchSize
    augmented_per_pair: int = 10     # k3: shifted examples per true pair
    base_lr: float = 1e-6
    lr_policy: str = "step"
    stepsize: int = 100_000
    gamma: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 0.0005
    display: int = 20
    snapshot: int = 50_000
    # Motion model of the training crops (BoundingBox::Shift).
    lambda_shift: float = 5.0
    lambda_scale: float = 15.0
    min_scale: float = -0.4
    max_scale: float = 0.4

    def solver(self) -> dict:
        """The values of the authors' ``nets/solver.prototxt`` (no solver_mode)."""
        return dict(base_lr=self.base_lr, lr_policy=self.lr_policy, gamma=self.gamma,
                    stepsize=self.stepsize, momentum=self.momentum,
                    weight_decay=self.weight_decay, display=self.display,
                    max_iter=self.max_iter, snapshot=self.snapshot, random_seed=self.seed)


AUTHORS = AuthorsDefaults()
