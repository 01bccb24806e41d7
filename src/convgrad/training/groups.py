"""Several optimizers (or schedulers) acting as one, for objectives that train several networks.

    opt = Optimizers({"discriminator": Adam(gan.discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999)),
                      "generator": Adam(gan.generator.parameters(), lr=2e-4, betas=(0.5, 0.999))})
    fit(gan, loader, opt, epochs=10, objective=GAN())

``opt["generator"]`` is one of them; ``state_dict()`` / ``load_state_dict()`` hold all of them by
name, so a checkpoint saves and restores a GAN's two optimizers like one. ``param_groups`` are the
first optimizer's (what the progress bar shows as the learning rate).
"""
from ..errors import ArgumentError


class _Group:
    """Named members with ``state_dict`` / ``load_state_dict``."""

    kind = "member"

    def __init__(self, members):
        if not isinstance(members, dict) or not members:
            raise ArgumentError(f"{type(self).__name__}: expected a non-empty dict of name -> {self.kind}, got "
                                f"{type(members).__name__}")
        self.members = dict(members)

    def __getitem__(self, key):
        if key not in self.members:
            raise ArgumentError(f"{type(self).__name__}: no {self.kind} named {key!r}; there are "
                                f"{', '.join(self.members)}")
        return self.members[key]

    def __contains__(self, key):
        return key in self.members

    def keys(self):
        return self.members.keys()

    def state_dict(self):
        return {"members": {key: m.state_dict() for key, m in self.members.items()}}

    def load_state_dict(self, state):
        saved = state.get("members") if isinstance(state, dict) else None
        if not isinstance(saved, dict) or set(saved) != set(self.members):
            raise ArgumentError(f"{type(self).__name__}.load_state_dict: the state holds "
                                f"{sorted(saved) if isinstance(saved, dict) else 'no named members'}, this group "
                                f"has {sorted(self.members)}")
        for key, m in self.members.items():
            m.load_state_dict(saved[key])

    def __repr__(self):
        return f"{type(self).__name__}({self.members!r})"


class Optimizers(_Group):
    """Named optimizers stepped by an objective one at a time (see the module docstring)."""

    kind = "optimizer"

    @property
    def param_groups(self):
        """The parameter groups of the first optimizer (what schedulers and logs read)."""
        return next(iter(self.members.values())).param_groups

    def zero_grad(self):
        """Clear the gradients of every optimizer's parameters."""
        for m in self.members.values():
            m.zero_grad()


class Schedulers(_Group):
    """Named learning-rate schedulers, all stepped together by ``step()``."""

    kind = "scheduler"

    def step(self):
        """Step every scheduler."""
        for m in self.members.values():
            m.step()
